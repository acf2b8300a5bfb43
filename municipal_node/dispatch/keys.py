"""Deterministic names of a send: the ``X-Line-Retry-Key`` of each batch and the
``customAggregationUnits`` value of each (notice, phase). Pure functions."""

from __future__ import annotations

import hashlib
import re
import uuid

RETRY_KEY_NAMESPACE = uuid.UUID("6f0b7f4e-3c1e-5d55-9a53-746f646f6b65")
AGGREGATION_UNIT_RE = re.compile(r"[A-Za-z0-9_]{1,30}")


def retry_key_for(
    tenant_code: str, publisher: str, notice_id: str, phase: str, batch_no: int
) -> str:
    """The same batch always gets the same UUID, so a re-send after a crash is a 409 at LINE;
    different phases of one notice get different keys."""
    name = f"{tenant_code}/{publisher}/{notice_id}/{phase}/{batch_no}"
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, name))


def aggregation_unit_for(tenant_code: str, publisher: str, notice_id: str, phase: str) -> str:
    """``t`` + 29 hex digits of SHA-256 over the (tenant, notice, phase): 30 characters of
    ``[A-Za-z0-9_]`` as LINE requires, one unit per notice phase (LINE allows 1,000 a month)."""
    digest = hashlib.sha256(f"{tenant_code}/{publisher}/{notice_id}/{phase}".encode()).hexdigest()
    return "t" + digest[:29]
