"""Quoting engine: 3D model intake, geometry, print time / mass / cost models, pricing and
the product configurator. Pure computation: the only I/O is reading a file given by path."""

from microfactory.quoting.engine import ModelQuote, QuoteOptions, quote_model
from microfactory.quoting.geometry import Geometry, Orientation, OrientationWeights, analyze
from microfactory.quoting.intake import IntakeLimits, LoadedModel, load_model, load_model_bytes
from microfactory.quoting.leadtime import LeadTimeRule, promise_date
from microfactory.quoting.pricing import FinishingStep, PriceBreakdown, PricingPolicy
from microfactory.quoting.processes import (
    FdmSettings,
    PrintMachine,
    PrintMaterial,
    Process,
    ResinSettings,
)

__all__ = [
    "FdmSettings",
    "FinishingStep",
    "Geometry",
    "IntakeLimits",
    "LeadTimeRule",
    "LoadedModel",
    "ModelQuote",
    "Orientation",
    "OrientationWeights",
    "PriceBreakdown",
    "PricingPolicy",
    "PrintMachine",
    "PrintMaterial",
    "Process",
    "QuoteOptions",
    "ResinSettings",
    "analyze",
    "load_model",
    "load_model_bytes",
    "promise_date",
    "quote_model",
]
