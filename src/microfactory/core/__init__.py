"""Core: ids, UTC time helpers, the error tree, clock and RNG protocols. Stdlib only."""

from microfactory.core.clock import Clock, FixedClock, SystemClock
from microfactory.core.errors import (
    Conflict,
    ConnectorError,
    InfeasibleError,
    MicrofactoryError,
    NotFittedError,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from microfactory.core.ids import new_id, new_token
from microfactory.core.timeutil import from_epoch_s, parse_rfc3339, to_epoch_s, to_rfc3339, utc

__all__ = [
    "Clock",
    "Conflict",
    "ConnectorError",
    "FixedClock",
    "InfeasibleError",
    "MicrofactoryError",
    "NotFittedError",
    "NotFound",
    "PermissionDenied",
    "SystemClock",
    "ValidationError",
    "from_epoch_s",
    "new_id",
    "new_token",
    "parse_rfc3339",
    "to_epoch_s",
    "to_rfc3339",
    "utc",
]
