"""What to do with a relayed notice: ``plan_for`` → ``SendPlan`` (who, what, how) or None.

- A tenant without any relay rule gets the default plan: the notice's own audience, the
  built-in default template, sent automatically.
- Otherwise rules are tried by ``priority`` (smallest first), then id; disabled ones are
  skipped; the first whose match lists all hold decides. A null list matches anything;
  ``areas`` holds when one of the notice's area codes is in the list (exact codes: ``"23"``
  is "addressed to Aichi", not "anywhere in Aichi").
- No rule matches → None: the notice is not relayed (``NOT_MATCHED_REASON``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.notice import Notice
from municipal_node.relay_rules import repository
from municipal_node.relay_rules.models import RelayRule
from municipal_node.relay_rules.render import (
    DEFAULT_TEMPLATE,
    NoticeFields,
    TemplateFields,
    render_messages,
)
from municipal_node.relay_rules.schemas import template_fields
from municipal_node.segments import repository as segments
from municipal_node.segments.spec import INTERNAL, LocalCriteria, SegmentSpec, narrow
from municipal_node.tenants.schemas import TenantConfig

AUTO = "auto"
APPROVAL = "approval"
NOT_MATCHED_REASON = (
    "どの配信ルールにも当てはまらないため配信しません / no relay rule of this municipality "
    "matches the notice"
)


@dataclass(frozen=True)
class SendPlan:
    rule_id: int | None
    spec: SegmentSpec
    messages: list[dict[str, Any]]  # LINE message objects (camelCase JSON): text + flex
    approval: str  # "auto" or "approval"
    two_person_threshold: int | None  # approval by 2 different approvers when targeted > this
    #: the rule asks for a campaign when the notice has an application window
    campaign: bool = False


def rule_matches(rule: RelayRule, notice: Notice, publisher: str) -> bool:
    if not rule.enabled:
        return False
    if rule.publishers is not None and publisher not in rule.publishers:
        return False
    if rule.categories is not None and str(notice.category) not in rule.categories:
        return False
    if rule.program_codes is not None and notice.program.code not in rule.program_codes:
        return False
    return rule.areas is None or not set(rule.areas).isdisjoint(notice.area)


def default_plan(notice: Notice, *, tenant_name: str) -> SendPlan:
    return SendPlan(
        rule_id=None,
        spec=SegmentSpec.from_audience(notice.audience),
        messages=render_messages(
            DEFAULT_TEMPLATE, NoticeFields.of(notice), tenant_name=tenant_name
        ),
        approval=AUTO,
        two_person_threshold=None,
    )


async def _plan_of_rule(
    session: AsyncSession, rule: RelayRule, notice: Notice, tenant: TenantConfig
) -> SendPlan:
    spec: SegmentSpec
    if rule.segment_id is None:
        spec = SegmentSpec.from_audience(notice.audience)
    else:
        segment = await segments.get_segment(session, tenant.code, rule.segment_id)
        if segment is None:  # the foreign key forbids it; never fall back to "everyone"
            raise LookupError(f"relay rule {rule.id} names a missing segment {rule.segment_id}")
        spec = SegmentSpec.from_json(segment.spec)
    if rule.extra is not None:
        spec = narrow(spec, LocalCriteria.model_validate(rule.extra, context={INTERNAL: True}))
    fields: TemplateFields = DEFAULT_TEMPLATE
    if rule.template_id is not None:
        template = await repository.get_template(session, tenant.code, rule.template_id)
        if template is None:
            raise LookupError(f"relay rule {rule.id} names a missing template {rule.template_id}")
        fields = template_fields(template)
    return SendPlan(
        rule_id=rule.id,
        spec=spec,
        messages=render_messages(fields, NoticeFields.of(notice), tenant_name=tenant.name),
        approval=APPROVAL if rule.mode == APPROVAL else AUTO,
        two_person_threshold=rule.two_person_threshold if rule.mode == APPROVAL else None,
        campaign=rule.campaign,
    )


async def plan_for(
    session: AsyncSession, *, tenant: TenantConfig, notice: Notice, publisher: str
) -> SendPlan | None:
    rules = await repository.rules_in_order(session, tenant.code)
    if not rules:
        return default_plan(notice, tenant_name=tenant.name)
    for rule in rules:
        if rule_matches(rule, notice, publisher):
            return await _plan_of_rule(session, rule, notice, tenant)
    return None
