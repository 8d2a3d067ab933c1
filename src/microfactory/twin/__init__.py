"""The digital twin: a SimPy model of the micro-factory that executes a dispatcher's jobs,
wears, breaks down, is repaired and maintained, and reports everything as shop-floor events.
"""

from microfactory.twin.degradation import HealthProcess, SignalProfile, signals_for
from microfactory.twin.jobs import Dispatcher, EventSink, TwinConfig, TwinJob
from microfactory.twin.model import FailureRecord, Twin

__all__ = [
    "Dispatcher",
    "EventSink",
    "FailureRecord",
    "HealthProcess",
    "SignalProfile",
    "Twin",
    "TwinConfig",
    "TwinJob",
    "signals_for",
]
