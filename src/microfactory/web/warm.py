"""The pages' shared read models computed once when a serving process starts, in the
background, so the first visitors of the overview, schedule, capacity, quality and materials
pages do not each wait for a cold computation (a quarter of a second each on the 30-day
demo). Later refreshes are the caches' own (stale-while-revalidate, cleared by changes)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from microfactory.api.context import ApiContext
from microfactory.web import capacity_page, materials_pages, pages

log = logging.getLogger("microfactory.web.warm")


def warm_steps(ctx: ApiContext) -> list[tuple[str, Callable[[], Any]]]:
    """What is computed, landing page first; each step is the page's own shared read."""
    return [
        ("overview", lambda: pages.dash(ctx).overview()),
        ("alerts", lambda: pages.alert_service(ctx).alerts(open_only=True, limit=20)),
        ("schedule", lambda: pages.shared_schedule(ctx)),
        ("capacity", lambda: capacity_page.shared_view(ctx, 14, 14)),
        ("quality", lambda: pages.shared_quality_charts(ctx) if ctx.quality else None),
        ("materials", lambda: materials_pages.shared_view(ctx)),
    ]


def warm_pages(ctx: ApiContext) -> dict[str, float]:
    """Run every step; a step that fails is logged and skipped (the page itself will say
    what is wrong when asked). Returns the seconds each step took."""
    took: dict[str, float] = {}
    for name, step in warm_steps(ctx):
        began = time.perf_counter()
        try:
            step()
        except Exception:
            log.exception("warming the %s page's read model failed", name)
            continue
        took[name] = time.perf_counter() - began
    return took
