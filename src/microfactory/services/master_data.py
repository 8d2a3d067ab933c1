"""Use cases: staff edit the factory's master data — customers, products, materials — in the
dashboard. An edit changes one entry of the stored factory definition and the whole
definition is validated by the factory file's own validator (`factory_from_dict`) before it is
saved as the new current version: the dashboard accepts exactly what `microfactory init`
accepts, errors name the field path, and a refused edit leaves everything as it was."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import yaml

from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.orders import Factory
from microfactory.orders.factory_file import MAX_FACTORY_FILE_BYTES, factory_from_dict
from microfactory.services.ports import UnitOfWork, UnitOfWorkFactory

SECTIONS = ("customers", "products", "materials")
MAX_ENTRY_BYTES = 200_000


@dataclass(frozen=True)
class Entry:
    section: str
    id: str
    data: dict[str, Any]

    @property
    def yaml(self) -> str:
        return yaml.safe_dump(self.data, sort_keys=False, allow_unicode=True)


def _section(section: str) -> str:
    if section not in SECTIONS:
        raise NotFound(f"no master-data section {section!r} (sections: {', '.join(SECTIONS)})")
    return section


def _definition(tx: UnitOfWork) -> dict[str, Any]:
    definition = tx.factory.definition()
    if definition is None:
        raise NotFound("no factory loaded: run `microfactory init --factory FILE.yaml` first")
    return definition


def entries(uow: UnitOfWorkFactory, section: str) -> list[Entry]:
    """The section's entries as the factory definition holds them."""
    with uow() as tx:
        definition = _definition(tx)
    items = definition.get(_section(section)) or []
    return [Entry(section, str(e.get("id", "")), e) for e in items if isinstance(e, dict)]


def entry(uow: UnitOfWorkFactory, section: str, entry_id: str) -> Entry:
    for found in entries(uow, section):
        if found.id == entry_id:
            return found
    raise NotFound(f"{section[:-1]} {entry_id} does not exist")


def parse_entry(text: str) -> dict[str, Any]:
    """One entry written as YAML (a mapping), as it stands in the factory file."""
    if len(text.encode()) > MAX_ENTRY_BYTES:
        raise ValidationError(f"the entry is over {MAX_ENTRY_BYTES} bytes", where="yaml")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValidationError(f"YAML syntax error{line}: {problem}", where="yaml") from None
    except RecursionError:
        raise ValidationError("YAML is nested too deeply", where="yaml") from None
    if not isinstance(data, dict):
        raise ValidationError("expected one mapping (id: …, name: …)", where="yaml")
    return data


def save_entry(
    uow: UnitOfWorkFactory,
    section: str,
    entry_id: str | None,
    data: dict[str, Any],
    *,
    by: str,
) -> Factory:
    """Replace the entry `entry_id` (None: add a new one) with `data`, validate the whole
    factory as the factory file is validated, and save it as the current version. An id
    that is already taken is a Conflict; a renamed id must not be in use by orders (the
    id is what orders and work orders refer to), so ids are fixed once an entry exists."""
    _section(section)
    new_id = data.get("id")
    if not isinstance(new_id, str) or not new_id.strip():
        raise ValidationError("an entry needs an id", where=f"{section}.id")
    with uow() as tx:
        definition = copy.deepcopy(_definition(tx))
        items = list(definition.get(section) or [])
        ids = [str(e.get("id")) for e in items if isinstance(e, dict)]
        if entry_id is None:
            if new_id in ids:
                raise Conflict(f"{section[:-1]} {new_id} already exists")
            items.append(data)
            where = len(items) - 1
        else:
            if entry_id not in ids:
                raise NotFound(f"{section[:-1]} {entry_id} does not exist")
            if new_id != entry_id:
                raise ValidationError(
                    f"the id of {entry_id} cannot change (orders refer to it); add a new entry",
                    where=f"{section}.id",
                )
            where = ids.index(entry_id)
            items[where] = data
        definition[section] = items
        factory = factory_from_dict(definition)  # first: it refuses YAML alias bombs
        if len(yaml.safe_dump(definition).encode()) > MAX_FACTORY_FILE_BYTES:
            raise ValidationError("the factory definition would be larger than 5 MB")
        action = "added" if entry_id is None else "edited"
        tx.factory.save(factory, definition, f"dashboard: {section[:-1]} {new_id} {action} by {by}")
        tx.commit()
    return factory


def customer_entry(
    customer_id: str, name: str, email: str = "", segment: str = "standard"
) -> dict[str, Any]:
    """A customer entry from the form's typed fields (the factory file's keys)."""
    out: dict[str, Any] = {"id": customer_id.strip(), "name": name.strip()}
    if email.strip():
        out["email"] = email.strip()
    out["segment"] = segment.strip() or "standard"
    return out
