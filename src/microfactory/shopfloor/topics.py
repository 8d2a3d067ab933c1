"""The shop-floor topic namespace (ISA-95 unified namespace):
`<root>/v1/<site>/<area>/<machine>/<state|counter|sample|job|measurement>`.

`root` is "microfactory" in production; tests use a unique root so they do not see each
other's traffic on a shared broker.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from microfactory.core.errors import ValidationError
from microfactory.shopfloor.events import EVENT_KINDS

ROOT = "microfactory"
VERSION = "v1"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Topic:
    site: str
    area: str
    machine: str
    kind: str
    root: str = ROOT

    def __post_init__(self) -> None:
        for what, value in (("site", self.site), ("area", self.area), ("machine", self.machine)):
            if not _SEGMENT.match(value):
                raise ValueError(f"topic {what} {value!r} must be 1–64 of [A-Za-z0-9_.-]")
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"topic kind {self.kind!r} must be one of {', '.join(EVENT_KINDS)}")
        if not self.root or any(c in self.root for c in "+#"):
            raise ValueError("topic root must be non-empty and contain no wildcards")

    def __str__(self) -> str:
        return f"{self.root}/{VERSION}/{self.site}/{self.area}/{self.machine}/{self.kind}"


def topic_for(site: str, area: str, machine: str, kind: str, root: str = ROOT) -> str:
    return str(Topic(site, area, machine, kind, root))


def subscription(root: str = ROOT, site: str = "+", area: str = "+", machine: str = "+") -> str:
    """A wildcard filter for every event kind under a root (optionally one site/area/machine)."""
    return f"{root}/{VERSION}/{site}/{area}/{machine}/+"


@functools.lru_cache(maxsize=8192)
def parse_topic(topic: str, root: str = ROOT) -> Topic:
    """Split a concrete topic; raise `ValidationError(where='topic')` when it is not ours.
    (Cached: a shop floor has few distinct topics and each is parsed per message.)"""
    prefix = f"{root}/{VERSION}/"
    if not topic.startswith(prefix):
        raise ValidationError(f"topic {topic!r} is not under {prefix}", where="topic")
    parts = topic[len(prefix) :].split("/")
    if len(parts) != 4:
        raise ValidationError(f"topic {topic!r} needs site/area/machine/kind", where="topic")
    try:
        return Topic(parts[0], parts[1], parts[2], parts[3], root)
    except ValueError as exc:
        raise ValidationError(str(exc), where="topic") from None


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT filter matching (`+` one level, `#` the rest)."""
    pat = pattern.split("/")
    top = topic.split("/")
    for i, p in enumerate(pat):
        if p == "#":
            return True
        if i >= len(top) or (p != "+" and p != top[i]):
            return False
    return len(pat) == len(top)
