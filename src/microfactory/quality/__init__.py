"""Statistical quality control: control charts, run rules, capability. Pure numpy/scipy.

Public entry points (see docs/quality.md):

* :func:`control_chart` — any chart type by name, Phase I or Phase II.
* :func:`evaluate_rules` — Nelson / Western Electric rules over any series.
* :func:`process_capability` — Cp, Cpk, Pp, Ppk, Cpm with intervals and normality.
"""

from microfactory.quality.capability import (
    CapabilityResult,
    Interval,
    NormalityTest,
    anderson_darling,
    process_capability,
)
from microfactory.quality.chart_model import (
    CHART_TYPES,
    ChartResult,
    ChartSeries,
    ProcessEstimate,
)
from microfactory.quality.charts import control_chart
from microfactory.quality.constants import c4, control_constants, d2, d3
from microfactory.quality.rules import (
    ALL_RULES,
    NELSON_RULES,
    WESTERN_ELECTRIC_RULES,
    Violation,
    evaluate_rules,
    select_rules,
)
from microfactory.quality.subgroups import Subgroups

__all__ = [
    "ALL_RULES",
    "CHART_TYPES",
    "NELSON_RULES",
    "WESTERN_ELECTRIC_RULES",
    "CapabilityResult",
    "ChartResult",
    "ChartSeries",
    "Interval",
    "NormalityTest",
    "ProcessEstimate",
    "Subgroups",
    "Violation",
    "anderson_darling",
    "c4",
    "control_chart",
    "control_constants",
    "d2",
    "d3",
    "evaluate_rules",
    "process_capability",
    "select_rules",
]
