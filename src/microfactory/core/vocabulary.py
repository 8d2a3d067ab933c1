"""Words a shop owner uses, in one place: machine states and reasons, operation and order
states, alert kinds, SPC rules and predictive-maintenance reasoning. The dashboard and the
CLI render through these functions; the data model keeps its codes (OPC 40001-1 states,
rule ids such as ``nelson-5``), which stay visible in "details" for whoever needs them."""

from __future__ import annotations

import re
from collections.abc import Iterable

#: OPC 40001-1 machine states → (short word, sentence).
MACHINE_STATES: dict[str, tuple[str, str]] = {
    "Executing": ("running", "running a job"),
    "NotExecuting": ("idle", "ready, waiting for work"),
    "OutOfService": ("down", "out of service"),
    "NotAvailable": ("off", "switched off or not connected"),
}

#: Why a machine is in its state (the reason codes the twin and adapters send).
STATE_REASONS: dict[str, str] = {
    "off_shift": "outside working hours",
    "micro_stop": "short stop",
    "repaired": "back from repair",
    "breakdown": "broken down",
    "pm": "planned maintenance",
    "pm_done": "maintenance finished",
    "setup": "being set up",
    "maintenance": "under maintenance",
    "plate_clear": "waiting for the build plate to be cleared",
}

#: Operation and work-order states.
OPERATION_STATES: dict[str, str] = {
    "planned": "waiting",
    "released": "ready to start",
    "running": "in progress",
    "paused": "paused",
    "done": "finished",
    "aborted": "stopped",
}

#: Alert kinds on the dashboard and in the CLI.
ALERT_KINDS: dict[str, str] = {
    "rule_violation": "process drifting",
    "out_of_spec": "part out of tolerance",
    "corrective": "breakdown",
    "predictive": "wear expected",
    "low_stock": "stock running low",
    "expiry": "lot about to expire",
    "discrepancy": "stock does not add up",
}

#: SPC rules (Nelson; Western Electric) in plain words.
SPC_RULES: dict[str, str] = {
    "nelson-1": "a point beyond the control limits",
    "nelson-2": "9 points in a row on one side of the average",
    "nelson-3": "6 points in a row steadily rising or falling",
    "nelson-4": "14 points in a row alternating up and down",
    "nelson-5": "2 of 3 points close to a control limit",
    "nelson-6": "4 of 5 points away from the average on one side",
    "nelson-7": "15 points in a row unusually close to the average",
    "nelson-8": "8 points in a row away from the average on both sides",
    "we-1": "a point beyond the control limits",
    "we-2": "2 of 3 points close to a control limit",
    "we-3": "4 of 5 points away from the average on one side",
    "we-4": "8 points in a row on one side of the average",
}


def machine_state(state: str | None, reason: str | None = None) -> str:
    """ "off (outside working hours)" for ``NotAvailable`` / ``off_shift``."""
    word = MACHINE_STATES.get(state or "", ("no data", ""))[0]
    why = state_reason(reason)
    return f"{word} ({why})" if why else word


def state_reason(reason: str | None) -> str:
    """A reason code in words: ``breakdown:nozzle_clog`` → "broken down: nozzle clog"."""
    if not reason:
        return ""
    code, _, detail = reason.partition(":")
    word = STATE_REASONS.get(code)
    if word is None:
        return reason.replace("_", " ")
    if detail and code == "breakdown":
        return f"{word}: {detail.replace('_', ' ')}"
    return word


def operation_state(status: str) -> str:
    return OPERATION_STATES.get(status, status.replace("_", " "))


def alert_kind(kind: str) -> str:
    return ALERT_KINDS.get(kind, kind.replace("_", " "))


def spc_rule(rule: str) -> str:
    return SPC_RULES.get(rule, rule)


def spc_summary(characteristic: str, rules: Iterable[str]) -> str:
    """One sentence for every rule that fired on one point, most serious first."""
    seen: list[str] = []
    for rule in rules:
        text = spc_rule(rule)
        if text not in seen:
            seen.append(text)
    if not seen:
        return f"{humanize(characteristic)} is drifting"
    return f"{humanize(characteristic)} is drifting: " + "; ".join(seen)


def humanize(code: str) -> str:
    """``nozzle_pressure`` → "nozzle pressure"."""
    return code.replace("_", " ").replace("-", " ")


_TREND = re.compile(r"(?P<signal>[A-Za-z0-9_.-]+) [+-][0-9.e+-]+ from healthy")
_RUL = re.compile(r"RUL (?P<rul>[0-9.]+) run-h")


def predictive_summary(machine: str, reason: str) -> str:
    """The health model's reasoning ("nozzle_pressure +0.958 from healthy (+6.3 sd), rising
    …; RUL 0.0 run-h (80% interval 0.0-3.1)") as a sentence: what is wearing and how soon
    to act. The numbers stay in the details."""
    signals = [humanize(m["signal"]) for m in _TREND.finditer(reason)]
    what = " and ".join(signals[:2]) if signals else "its sensors"
    rul = _RUL.search(reason)
    if rul is None:
        when = "keep an eye on it"
    else:
        hours = float(rul["rul"])
        if hours < 1:
            when = "service it now"
        elif hours < 24:
            when = f"service it within about {hours:.0f} running hours"
        else:
            when = f"service it within about {hours / 24:.0f} days of running"
    return f"{machine} is wearing: {what} moving away from normal; {when}"


def breakdown_summary(machine: str, reason: str) -> str:
    """A corrective work order's reason in words: "fdm-01 broke down: nozzle clog"."""
    code, _, detail = reason.partition(":")
    if code == "breakdown":
        return f"{machine} broke down" + (f": {humanize(detail)}" if detail else "")
    why = state_reason(reason)
    return f"{machine} broke down" + (f" ({why})" if why else "")


def upkeep_summary(reason: str, kind: str, machine: str) -> str:
    """A maintenance work order's reason in words (predictive: the health model's reasoning
    as a sentence; others as recorded)."""
    if kind == "predictive":
        return predictive_summary(machine, reason)
    if kind == "corrective":
        return breakdown_summary(machine, reason)
    return reason
