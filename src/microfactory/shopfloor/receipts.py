"""Store receipts: how the ingester tells a sender which of its messages are durably handled.

A sender that wants end-to-end acknowledgement (the edge buffer) publishes each message with
the MQTT v5 properties *Response Topic* = its receipt topic and *Correlation Data* = an opaque
token of its own. After the batch holding the message is committed (stored, a duplicate of a
stored event, dead-lettered or held for review: in every case handled for good), the ingester
publishes a receipt listing the tokens on that topic; only then may the sender forget the
message. A receipt that never comes means "send it again": the store deduplicates.

Receipt topics are `<root>/v1/<site>/_receipts/<edge-id>`: one level shorter than event topics,
so no event subscription sees them, and `_receipts` is no valid area name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from microfactory.core.errors import ValidationError

RECEIPTS = "_receipts"
RECEIPT_VERSION = 1
MAX_TOKENS_PER_RECEIPT = 2000
MAX_TOKEN_BYTES = 64
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"


def receipt_topic(site: str, edge_id: str, root: str = "microfactory") -> str:
    """The topic on which the ingester confirms what `edge_id` of `site` sent."""
    for what, value in (("site", site), ("edge id", edge_id)):
        if not re.fullmatch(_SEGMENT, value):
            raise ValueError(f"receipt {what} {value!r} must be 1–64 of [A-Za-z0-9_.-]")
    return f"{root}/v1/{site}/{RECEIPTS}/{edge_id}"


def is_receipt_topic(topic: str, root: str) -> bool:
    """Whether `topic` is a receipt topic under `root` (the ingester answers only those)."""
    return re.fullmatch(f"{re.escape(root)}/v1/{_SEGMENT}/{RECEIPTS}/{_SEGMENT}", topic) is not None


def receipt_payloads(tokens: Sequence[bytes]) -> list[bytes]:
    """The receipts for `tokens`, at most MAX_TOKENS_PER_RECEIPT per payload."""
    out = []
    for i in range(0, len(tokens), MAX_TOKENS_PER_RECEIPT):
        chunk = tokens[i : i + MAX_TOKENS_PER_RECEIPT]
        body = {"v": RECEIPT_VERSION, "done": [t.hex() for t in chunk]}
        out.append(json.dumps(body, separators=(",", ":")).encode())
    return out


def parse_receipt(payload: bytes) -> list[bytes]:
    """The tokens of one receipt; `ValidationError` when it is not one."""
    try:
        body = json.loads(payload)
        if not isinstance(body, dict) or body.get("v") != RECEIPT_VERSION:
            raise ValueError("not a version-1 receipt")
        done = body["done"]
        if not isinstance(done, list):
            raise ValueError("'done' must be a list")
        tokens = [bytes.fromhex(t) for t in done]
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise ValidationError(f"bad receipt: {exc}", where="receipt") from None
    if any(len(t) > MAX_TOKEN_BYTES for t in tokens):
        raise ValidationError("bad receipt: token too long", where="receipt")
    return tokens
