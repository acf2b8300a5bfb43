"""Update and Cancel notices that reference an earlier revision, as a publisher writes them."""

from __future__ import annotations

from typing import Any

from contracts.canonical import canonicalize
from contracts.jws import digest
from tests.municipal_node.helpers import new_ulid


def successor(earlier: dict[str, Any], msg_type: str, **changes: Any) -> dict[str, Any]:
    """Revision ``earlier["revision"] + 1`` of the same document, referencing ``earlier``."""
    value = dict(earlier)
    value.update(
        notice_id=new_ulid(),
        msg_type=msg_type,
        revision=int(earlier["revision"]) + 1,
        references=[
            {
                "publisher": earlier["publisher"],
                "notice_id": earlier["notice_id"],
                "revision": earlier["revision"],
                "digest": digest(canonicalize(earlier)),
            }
        ],
    )
    if msg_type == "Cancel":
        value["cancel_reason"] = "制度改正により取り消します"
    value.update(changes)
    return value
