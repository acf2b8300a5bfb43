"""Rows of every table with a sealed column, sealed by the owners' own functions, and a check
that opens them all again with the owners' own functions."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.crypto import Sealer
from municipal_node.dispatch import households
from municipal_node.dispatch.models import BatchState, JobState, OutboxBatch, SendJob
from municipal_node.line.models import FriendPreference
from municipal_node.line.preferences import open_household, seal_household
from municipal_node.linking.models import CodeState, RegistrationCode, RegistrationCodeIssue
from municipal_node.linking.service import code_aad
from municipal_node.residents.models import Resident
from municipal_node.residents.schemas import open_attributes
from municipal_node.tenants.service import load_config
from tests.municipal_node.helpers import CHANNEL_SECRET, CHANNEL_TOKEN, TENANT

FRIEND = "U" + "f" * 32
NOTICE = "01J0000000000000000000000A"


async def add_other_sealed_rows(session: AsyncSession, sealer: Sealer, now: datetime) -> None:
    """A friend's declared household, a registration code not yet printed, and an outbox
    batch with its sealed household list."""
    session.add(
        FriendPreference(
            tenant_code=TENANT,
            user_id=FRIEND,
            topics=["child_rearing"],
            stopped=False,
            declared_sealed=seal_household(
                sealer, tenant_code=TENANT, user_id=FRIEND, household=("single_parent",)
            ),
            updated_at=now,
        )
    )
    issue = RegistrationCodeIssue(
        tenant_code=TENANT, issued_by="cli", issued_at=now, expires_at=now, count=1
    )
    session.add(issue)
    await session.flush()
    session.add(
        RegistrationCode(
            tenant_code=TENANT,
            issue_id=issue.id,
            resident_id="R001",
            digest=b"d" * 32,
            sealed=sealer.seal_text("ABCD-EFGH", aad=code_aad(TENANT, issue.id, "R001")),
            state=CodeState.ISSUED,
            expires_at=now + timedelta(days=30),
        )
    )
    job = SendJob(
        tenant_code=TENANT,
        publisher="gov-cfa",
        notice_id=NOTICE,
        approval="auto",
        spec={},
        messages=[],
        aggregation_unit="u",
        state=JobState.DONE,
        send_until=now + timedelta(days=1),
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    await session.flush()
    session.add(
        OutboxBatch(
            job_id=job.id,
            tenant_code=TENANT,
            publisher="gov-cfa",
            notice_id=NOTICE,
            batch_no=0,
            user_ids=[FRIEND],
            recipient_count=1,
            retry_key="00000000-0000-0000-0000-000000000000",
            state=BatchState.SENT,
            household_counts={"single_parent": 1},
            households_sealed=households.seal(
                sealer,
                tenant_code=TENANT,
                job_id=job.id,
                batch_no=0,
                households=[("single_parent",)],
            ),
            created_at=now,
            updated_at=now,
        )
    )
    await session.flush()


async def open_everything(session: AsyncSession, sealer: Sealer) -> int:
    """Open every sealed value with its owner's function; return how many were opened."""
    opened = 0
    config = await load_config(session, TENANT, sealer=sealer)
    assert config is not None
    assert (config.line_channel_secret, config.line_access_token) == (CHANNEL_SECRET, CHANNEL_TOKEN)
    opened += 2 + (config.hub_credential is not None)
    for resident in await session.scalars(select(Resident)):
        open_attributes(
            sealer, tenant_code=TENANT, resident_id=resident.resident_id, sealed=resident.sealed
        )
        opened += 1
    for friend in await session.scalars(select(FriendPreference)):
        household = open_household(
            sealer, tenant_code=TENANT, user_id=friend.user_id, sealed=friend.declared_sealed
        )
        assert household == ("single_parent",)
        opened += 1
    for code in await session.scalars(select(RegistrationCode)):
        assert code.sealed is not None
        aad = code_aad(TENANT, code.issue_id, code.resident_id)
        assert sealer.open_text(code.sealed, aad=aad) == "ABCD-EFGH"
        opened += 1
    for batch in await session.scalars(select(OutboxBatch)):
        assert batch.households_sealed is not None
        opened_households = households.open_sealed(
            sealer,
            tenant_code=TENANT,
            job_id=batch.job_id,
            batch_no=batch.batch_no,
            sealed=batch.households_sealed,
        )
        assert opened_households == [("single_parent",)]
        opened += 1
    return opened
