"""E-mail notifications through an outbox: customers hear that their quote was sent, their
order accepted, late or shipped; staff hear of alerts by role and severity, as each user chose
(which alert sources, from which severity, to which address).

Two steps, never inline in a request:

* `collect(now)` looks at the shop's state — orders, quotes, open alerts — and queues one
  outbox row per notice, under a unique key (`order-shipped:SO-00042`, `alert:<id>:<user>`),
  so running it again, from the reactor after each batch of events or from the delivery loop,
  queues nothing twice. Only what happened after notifications were switched on (the first
  `collect`, kept as a mark) is announced: turning them on does not mail the history.
* `deliver(now)` sends the due rows over SMTP (`MailSender`); a failure (server down,
  refused) keeps the row pending with the error and retries with exponential back-off, so a
  down server loses nothing and a message is marked sent only once the server took it.

Staff alert kinds are the alert sources: maintenance, quality, materials, events. Severity:
maintenance (a breakdown or a predicted failure) is critical, quality and unapplied events are
warnings, materials (low stock, expiry) are information."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from microfactory.access import Role, User
from microfactory.core.clock import Clock
from microfactory.core.errors import ConnectorError, ValidationError
from microfactory.core.timeutil import local_text
from microfactory.orders import Factory, Order, OrderStatus
from microfactory.services.alerts import Alert
from microfactory.services.factory import current_factory
from microfactory.services.ports import MailSender, NotificationStore, UnitOfWorkFactory

log = logging.getLogger(__name__)

SEVERITIES = ("info", "warning", "critical")
ALERT_KINDS = ("maintenance", "quality", "materials", "events")
ALERT_SEVERITY = {"maintenance": "critical", "quality": "warning", "events": "warning"}
ALERT_ROLES: dict[str, frozenset[Role]] = {
    "maintenance": frozenset({Role.MAINTENANCE, Role.ADMIN}),
    "quality": frozenset({Role.QUALITY, Role.ADMIN}),
    "materials": frozenset({Role.PLANNER, Role.ADMIN}),
    "events": frozenset({Role.PLANNER, Role.OPERATOR, Role.ADMIN}),
}
CUSTOMER_KINDS = ("quote_sent", "order_accepted", "order_late", "order_shipped")
ACCEPTED = frozenset(
    {OrderStatus.CONFIRMED, OrderStatus.RELEASED, OrderStatus.IN_PRODUCTION, OrderStatus.DONE}
)
START_MARK = "notifications-on"


def severity_of(alert: Alert) -> str:
    given = getattr(alert, "severity", None)
    if isinstance(given, str) and given in SEVERITIES:
        return given
    return ALERT_SEVERITY.get(alert.source, "info")


def check_email(address: str) -> str:
    address = address.strip()
    local, _, domain = address.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in address) or "," in address:
        raise ValidationError(f"{address!r} is not an e-mail address", where="email")
    return address


@dataclass(frozen=True)
class NotifySettings:
    retry_first_s: float = 60.0
    retry_max_s: float = 3600.0
    batch: int = 100


@dataclass(frozen=True)
class Delivery:
    sent: int
    failed: int
    pending: int

    def to_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "pending": self.pending}


@dataclass(frozen=True)
class UserSettings:
    username: str
    email: str
    kinds: tuple[str, ...]
    min_severity: str


class NotificationService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        store: NotificationStore,
        clock: Clock,
        *,
        sender: MailSender | None = None,
        alerts: Callable[[], list[Alert]] | None = None,
        users: Callable[[], list[User]] | None = None,
        settings: NotifySettings | None = None,
    ) -> None:
        self.uow = uow
        self.store = store
        self.clock = clock
        self.sender = sender
        self.alerts = alerts
        self.users = users
        self.settings = settings or NotifySettings()

    # -- per-user settings --------------------------------------------------------------------

    def user_settings(self, username: str) -> UserSettings:
        for p in self.store.prefs():
            if p["username"] == username:
                return UserSettings(username, p["email"], tuple(p["kinds"]), p["min_severity"])
        return UserSettings(username, "", (), "warning")

    def save_user_settings(
        self, username: str, email: str, kinds: Sequence[str], min_severity: str
    ) -> UserSettings:
        """Validated: an address when any kind is chosen, known kinds, a known severity."""
        unknown = [k for k in kinds if k not in ALERT_KINDS]
        if unknown:
            raise ValidationError(
                f"unknown notification kinds {unknown}; known: {', '.join(ALERT_KINDS)}",
                where="kinds",
            )
        if min_severity not in SEVERITIES:
            raise ValidationError(
                f"severity {min_severity!r}: use one of {', '.join(SEVERITIES)}",
                where="min_severity",
            )
        email = email.strip()
        if email:
            email = check_email(email)
        elif kinds:
            raise ValidationError("an e-mail address is needed to receive alerts", where="email")
        chosen = tuple(k for k in ALERT_KINDS if k in kinds)
        self.store.save_prefs(username, email, chosen, min_severity)
        return UserSettings(username, email, chosen, min_severity)

    # -- collect: state → outbox --------------------------------------------------------------

    def collect(self, now: datetime | None = None) -> int:
        """Queue the notices not queued yet; returns how many were queued to be sent."""
        now = now or self.clock.now()
        since = self.store.mark(START_MARK, now)
        with self.uow() as tx:
            factory = current_factory(tx)
            emailed = {c.id for c in factory.customers if c.email}
            orders = [o for o in tx.orders.find(limit=1_000_000) if o.customer in emailed]
            done = [o.id for o in orders if o.status == OrderStatus.DONE]
            # each finished order's timeline is read once: then its key is in the outbox
            # (sent, pending, or skipped when it finished before notifications were on)
            told = self.store.known_keys([f"order-shipped:{o}" for o in done])
            done_at = {
                o: max((at for st, at, _ in tx.orders.timeline(o) if st == "done"), default=None)
                for o in done
                if f"order-shipped:{o}" not in told
            }
        notices = self._order_notices(factory, orders, done_at, since, now)
        notices += self._quote_notices(factory, since)
        notices += self._alert_notices(factory, since)
        if not notices:
            return 0
        known = self.store.known_keys([n["key"] for n in notices])
        fresh = [n for n in notices if n["key"] not in known]
        for n in fresh:
            n.setdefault("status", "pending")
            n.setdefault("last_error", "")
            n.update(created=now, attempts=0, next_attempt=now)
        self.store.enqueue([n for n in fresh if n["status"] == "skipped"])
        return self.store.enqueue([n for n in fresh if n["status"] == "pending"])

    def _order_notices(
        self,
        factory: Factory,
        orders: list[Order],
        done_at: dict[str, datetime | None],
        since: datetime,
        now: datetime,
    ) -> list[dict[str, Any]]:
        emails = {c.id: (c.name, c.email) for c in factory.customers if c.email}
        tz, site = factory.site.timezone, factory.site.name
        out = []
        for o in orders:
            if o.customer not in emails:
                continue
            name, email = emails[o.customer]
            parts = ", ".join(f"{line.quantity} × {line.product}" for line in o.lines)
            due = local_text(o.due, tz)
            if o.status in ACCEPTED and o.created >= since:
                out.append(
                    _notice(
                        f"order-accepted:{o.id}",
                        "order_accepted",
                        email,
                        f"Order {o.id} accepted",
                        f"Dear {name},\n\nwe have accepted your order {o.id} ({parts}). "
                        f"We promise delivery by {due}.\n\n{site}",
                    )
                )
            finished = done_at.get(o.id)
            if o.id in done_at:
                skip = finished is None or finished < since
                out.append(
                    _notice(
                        f"order-shipped:{o.id}",
                        "order_shipped",
                        email,
                        f"Order {o.id} shipped",
                        f"Dear {name},\n\nyour order {o.id} ({parts}) is complete and "
                        f"shipped on {local_text(finished, tz)}.\n\n{site}",
                        skipped="finished before notifications were switched on" if skip else "",
                    )
                )
            open_ = o.status not in (OrderStatus.DONE, OrderStatus.CANCELLED, OrderStatus.QUOTED)
            if open_ and since <= o.due < now:
                out.append(
                    _notice(
                        f"order-late:{o.id}",
                        "order_late",
                        email,
                        f"Order {o.id} is late",
                        f"Dear {name},\n\nwe are sorry: your order {o.id} ({parts}) was "
                        f"promised by {due} and is not finished yet. We are on it and will "
                        f"tell you when it ships.\n\n{site}",
                    )
                )
        return out

    def _quote_notices(self, factory: Factory, since: datetime) -> list[dict[str, Any]]:
        """Quotes sent since `since` and still out (`quote_sent` queues each at the press of
        Send; this scan is the safety net for one whose queueing failed). A quote that was
        only made, never sent, is not announced."""
        return [
            n
            for q in self.store.recent_quotes(since)
            if q.get("status") == "sent" and (n := _quote_notice(factory, q)) is not None
        ]

    def quote_sent(self, quote_id: str, now: datetime | None = None) -> int:
        """Queue the customer's "your quote" mail for a quote staff just sent (1 when queued,
        0 when it was queued before or its customer has no address). Wired to
        `QuoteService.send` where e-mail is configured; delivery stays outside the request."""
        now = now or self.clock.now()
        self.store.mark(START_MARK, now)  # sending a quote is news from now on
        q = self.store.quote(quote_id)
        if q is None or not q.get("customer"):
            return 0
        with self.uow() as tx:
            factory = current_factory(tx)
        notice = _quote_notice(factory, q)
        if notice is None:
            return 0
        notice.update(status="pending", last_error="", created=now, attempts=0, next_attempt=now)
        return self.store.enqueue([notice])

    def _alert_notices(self, factory: Factory, since: datetime) -> list[dict[str, Any]]:
        if self.alerts is None or self.users is None:
            return []
        tz = factory.site.timezone
        prefs = {p["username"]: p for p in self.store.prefs() if p["email"] and p["kinds"]}
        if not prefs:
            return []
        users = [u for u in self.users() if u.active and u.username in prefs]
        out = []
        for alert in self.alerts():
            if not alert.open or alert.at < since:
                continue
            severity = severity_of(alert)
            roles = ALERT_ROLES.get(alert.source, frozenset({Role.ADMIN}))
            for user in users:
                p = prefs[user.username]
                if (
                    user.role not in roles
                    or alert.source not in p["kinds"]
                    or SEVERITIES.index(severity) < SEVERITIES.index(p["min_severity"])
                ):
                    continue
                out.append(
                    _notice(
                        f"alert:{alert.id}:{user.username}"[:200],
                        "alert",
                        p["email"],
                        f"[{severity}] {alert.subject}"[:300],
                        f"{alert.message}\n\nMachine: {alert.machine or '—'}\nSource: "
                        f"{alert.source} ({alert.kind}), severity {severity}, at "
                        f"{local_text(alert.at, tz)}.\nAcknowledge it on the dashboard's "
                        "overview page.",
                    )
                )
        return out

    # -- deliver: outbox → SMTP ---------------------------------------------------------------

    def deliver(self, now: datetime | None = None) -> Delivery:
        """Send what is due; a failure stays pending and is retried later (back-off)."""
        if self.sender is None:
            raise ConnectorError(
                "no SMTP server is configured (MICROFACTORY_SMTP_HOST): nothing can be sent"
            )
        now = now or self.clock.now()
        sent = failed = 0
        for row in self.store.due(now, self.settings.batch):
            try:
                self.sender.send(row["recipient"], row["subject"], row["body"])
            except ConnectorError as exc:
                failed += 1
                wait = min(
                    self.settings.retry_max_s,
                    self.settings.retry_first_s * 2 ** min(int(row["attempts"]), 16),
                )
                self.store.mark_failed(row["id"], str(exc), now + timedelta(seconds=wait))
                log.warning("notification %s to %s not sent: %s", row["key"], row["recipient"], exc)
                continue
            self.store.mark_sent(row["id"], now)
            sent += 1
        pending = len(self.store.outbox(status="pending", limit=100_000))
        return Delivery(sent, failed, pending)

    def listener(self) -> Callable[[Any], None]:
        """A reactor listener: after a batch that finished work, raised alerts, changed holds
        or downtimes or planned maintenance, collect (queue) the notices it made due. Never
        raises into the reactor: a failure is logged and the next batch or the delivery loop
        collects again."""

        def after(applied: Any) -> None:
            busy = (
                getattr(applied, "work_orders_done", None)
                or getattr(applied, "alerts", None)
                or getattr(applied, "stock_alerts", None)
                or getattr(applied, "rejections", None)
                or getattr(applied, "holds_changed", False)
                or getattr(applied, "maintenance_windows", None)
                or getattr(applied, "downtimes_changed", False)
            )
            if not busy:
                return
            try:
                self.collect(getattr(applied, "newest", None))
            except Exception:
                log.exception("collecting notifications after a reactor batch failed")

        return after


def _quote_notice(factory: Factory, q: dict[str, Any]) -> dict[str, Any] | None:
    """The "your quote" mail of stored quote `q`; None when its customer has no address."""
    customer = next((c for c in factory.customers if c.id == q["customer"] and c.email), None)
    if customer is None:
        return None
    tz, site = factory.site.timezone, factory.site.name
    return _notice(
        f"quote-sent:{q['id']}",
        "quote_sent",
        customer.email,
        f"Your quote {q['id']}",
        f"Dear {customer.name},\n\nhere is your quote {q['id']}: {q['quantity']} × "
        f"{q['model']} in {q['material']}, {q['price']:.2f} {q['currency']}, delivered by "
        f"{local_text(q['promised_date'], tz)}. The offer holds until "
        f"{local_text(q['expires_at'], tz)}.\n\n{site}",
    )


def _notice(
    key: str, kind: str, recipient: str, subject: str, body: str, *, skipped: str = ""
) -> dict[str, Any]:
    """An outbox row; `skipped` (the reason) keeps the key without sending."""
    row = {"key": key, "kind": kind, "recipient": recipient, "subject": subject, "body": body}
    if skipped:
        row.update(status="skipped", last_error=skipped)
    return row
