"""Sealed columns of the node as it stands, registered for key rotation.

The associated-data functions are the owners' own (imported, not copied), so a blob is
re-sealed under exactly the aad its owner opens it with. A module adding a sealed column may
register it itself (``register_sealed_column``) or add it here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from municipal_node.dispatch.households import households_aad as batch_households_aad
from municipal_node.line.preferences import declared_aad
from municipal_node.linking.service import code_aad
from municipal_node.privacy.sealed_columns import register_sealed_column
from municipal_node.residents.schemas import resident_aad
from municipal_node.tenants.service import _aad as tenant_secret_aad


def _tenant_secret(what: str) -> Callable[[Mapping[str, Any]], str]:
    def aad(row: Mapping[str, Any]) -> str:
        return tenant_secret_aad(row["code"], what)

    return aad


for _secret in ("line_channel_secret", "line_access_token", "hub_credential", "node_key"):
    register_sealed_column("tenants", ("code",), f"{_secret}_sealed", _tenant_secret(_secret))

register_sealed_column(
    "residents",
    ("tenant_code", "resident_id"),
    "sealed",
    lambda row: resident_aad(row["tenant_code"], row["resident_id"]),
    clear_on_reseal=("digest",),  # keyed by the old key: the next import rewrites the row
)

register_sealed_column(
    "friend_preferences",
    ("tenant_code", "user_id"),
    "declared_sealed",
    lambda row: declared_aad(row["tenant_code"], row["user_id"]),
)

register_sealed_column(
    "registration_codes",
    ("id",),
    "sealed",
    lambda row: code_aad(row["tenant_code"], int(row["issue_id"]), row["resident_id"]),
    aad_columns=("tenant_code", "issue_id", "resident_id"),
)

register_sealed_column(
    "outbox_batches",
    ("id",),
    "households_sealed",
    lambda row: batch_households_aad(row["tenant_code"], int(row["job_id"]), int(row["batch_no"])),
    aad_columns=("tenant_code", "job_id", "batch_no"),
)


def application_aad(tenant_code: str, campaign_id: int, receipt_no: str) -> str:
    """Associated data of ``applications.answers_sealed`` (the application form's answers)."""
    return f"application:{tenant_code}:{campaign_id}:{receipt_no}"


register_sealed_column(
    "applications",
    ("tenant_code", "campaign_id", "receipt_no"),
    "answers_sealed",
    lambda row: application_aad(row["tenant_code"], row["campaign_id"], row["receipt_no"]),
)
