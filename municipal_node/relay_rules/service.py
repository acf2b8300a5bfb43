"""Templates and relay rules: create, replace, delete — every template checked on save."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.relay_rules import repository
from municipal_node.relay_rules.checks import check_template
from municipal_node.relay_rules.models import MessageTemplate, RelayRule
from municipal_node.relay_rules.render import TemplateFields
from municipal_node.relay_rules.schemas import RuleIn, TemplateIn
from municipal_node.segments import repository as segments
from municipal_node.segments.http_errors import ApiError
from municipal_node.tenants import repository as tenants


def _not_found(what_ja: str, what_en: str, key: object) -> ApiError:
    code = f"{what_en.upper().replace(' ', '_')}_NOT_FOUND"
    return ApiError(code, f"{what_ja} {key} は見つかりません / {what_en} {key} not found", 404)


def _taken(what_ja: str, what_en: str, name: str) -> ApiError:
    return ApiError(
        f"{what_en.upper().replace(' ', '_')}_NAME_TAKEN",
        f"{what_ja}名「{name}」は既に使われています / {what_en} name {name!r} is already in use",
        409,
    )


async def tenant_name(session: AsyncSession, tenant_code: str) -> str:
    tenant = await tenants.get(session, tenant_code)
    if tenant is None:
        raise ApiError("UNKNOWN_TENANT", "自治体が見つかりません / unknown tenant", 404)
    return tenant.name


async def refuse_bad_template(
    session: AsyncSession, *, tenant_code: str, fields: TemplateFields
) -> None:
    """``ApiError`` 422 ``TEMPLATE_REFUSED`` listing every problem, if there is any."""
    problems = check_template(fields, tenant_name=await tenant_name(session, tenant_code))
    if problems:
        first = problems[0]
        more = f"（ほか{len(problems) - 1}件）" if len(problems) > 1 else ""
        raise ApiError(
            "TEMPLATE_REFUSED",
            f"テンプレートを保存できません: {first.field}: {first.message}{more}",
            422,
            [problem.as_dict() for problem in problems],
        )


# --- templates ---------------------------------------------------------------------------


async def get_template(
    session: AsyncSession, *, tenant_code: str, template_id: int
) -> MessageTemplate:
    template = await repository.get_template(session, tenant_code, template_id)
    if template is None:
        raise _not_found("テンプレート", "template", template_id)
    return template


def _apply_template(row: MessageTemplate, data: TemplateIn) -> None:
    row.name = data.name
    row.text = data.text
    row.button_label = data.button_label
    row.button_url = data.button_url
    row.alt_text = data.alt_text
    row.department = data.department
    row.phone = data.phone
    row.apply_url = data.apply_url


async def create_template(
    session: AsyncSession, *, tenant_code: str, data: TemplateIn, actor: str, now: datetime
) -> MessageTemplate:
    await refuse_bad_template(session, tenant_code=tenant_code, fields=data.fields())
    if await repository.template_by_name(session, tenant_code, data.name) is not None:
        raise _taken("テンプレート", "template", data.name)
    row = MessageTemplate(
        tenant_code=tenant_code, created_by=actor, updated_by=actor, created_at=now, updated_at=now
    )
    _apply_template(row, data)
    try:
        await repository.add(session, row)
    except IntegrityError as exc:
        raise _taken("テンプレート", "template", data.name) from exc
    return row


async def replace_template(
    session: AsyncSession,
    *,
    tenant_code: str,
    template_id: int,
    data: TemplateIn,
    actor: str,
    now: datetime,
) -> MessageTemplate:
    row = await get_template(session, tenant_code=tenant_code, template_id=template_id)
    await refuse_bad_template(session, tenant_code=tenant_code, fields=data.fields())
    other = await repository.template_by_name(session, tenant_code, data.name)
    if other is not None and other.id != row.id:
        raise _taken("テンプレート", "template", data.name)
    _apply_template(row, data)
    row.updated_by = actor
    row.updated_at = now
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _taken("テンプレート", "template", data.name) from exc
    return row


async def delete_template(session: AsyncSession, *, tenant_code: str, template_id: int) -> None:
    row = await get_template(session, tenant_code=tenant_code, template_id=template_id)
    users = await repository.rules_using_template(session, tenant_code, template_id)
    if users:
        names = "、".join(f"「{name}」" for name in users)
        raise ApiError(
            "TEMPLATE_IN_USE",
            f"配信ルール {names} が使っているため削除できません"
            f" / template is used by relay rule(s) {', '.join(users)}",
            409,
        )
    await repository.remove(session, row)


# --- rules -------------------------------------------------------------------------------


async def get_rule(session: AsyncSession, *, tenant_code: str, rule_id: int) -> RelayRule:
    rule = await repository.get_rule(session, tenant_code, rule_id)
    if rule is None:
        raise _not_found("配信ルール", "rule", rule_id)
    return rule


async def _check_references(session: AsyncSession, tenant_code: str, data: RuleIn) -> None:
    errors: list[dict[str, str]] = []
    if data.segment_id is not None and (
        await segments.get_segment(session, tenant_code, data.segment_id) is None
    ):
        errors.append(
            {
                "field": "segment_id",
                "message": f"セグメント {data.segment_id} はありません / no segment "
                f"{data.segment_id} in this municipality",
            }
        )
    if data.template_id is not None and (
        await repository.get_template(session, tenant_code, data.template_id) is None
    ):
        errors.append(
            {
                "field": "template_id",
                "message": f"テンプレート {data.template_id} はありません / no template "
                f"{data.template_id} in this municipality",
            }
        )
    if errors:
        raise ApiError(
            "UNKNOWN_REFERENCE",
            f"入力に誤りがあります: {errors[0]['field']}: {errors[0]['message']}",
            422,
            errors,
        )


def _rule_values(data: RuleIn) -> dict[str, Any]:
    def listed(values: list[Any] | None) -> list[str] | None:
        return None if values is None else [str(value) for value in values]

    return {
        "name": data.name,
        "priority": data.priority,
        "enabled": data.enabled,
        "publishers": listed(data.publishers),
        "categories": listed(data.categories),
        "program_codes": listed(data.program_codes),
        "areas": listed(data.areas),
        "segment_id": data.segment_id,
        "extra": None if data.extra is None else data.extra.model_dump(exclude_none=True),
        "template_id": data.template_id,
        "mode": data.mode,
        "two_person_threshold": data.two_person_threshold,
        "campaign": data.campaign,
    }


async def create_rule(
    session: AsyncSession, *, tenant_code: str, data: RuleIn, actor: str, now: datetime
) -> RelayRule:
    await _check_references(session, tenant_code, data)
    if await repository.rule_by_name(session, tenant_code, data.name) is not None:
        raise _taken("配信ルール", "rule", data.name)
    rule = RelayRule(
        tenant_code=tenant_code,
        created_by=actor,
        updated_by=actor,
        created_at=now,
        updated_at=now,
        **_rule_values(data),
    )
    try:
        await repository.add(session, rule)
    except IntegrityError as exc:
        raise _taken("配信ルール", "rule", data.name) from exc
    return rule


async def replace_rule(
    session: AsyncSession,
    *,
    tenant_code: str,
    rule_id: int,
    data: RuleIn,
    actor: str,
    now: datetime,
) -> RelayRule:
    rule = await get_rule(session, tenant_code=tenant_code, rule_id=rule_id)
    await _check_references(session, tenant_code, data)
    other = await repository.rule_by_name(session, tenant_code, data.name)
    if other is not None and other.id != rule.id:
        raise _taken("配信ルール", "rule", data.name)
    for name, value in _rule_values(data).items():
        setattr(rule, name, value)
    rule.updated_by = actor
    rule.updated_at = now
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _taken("配信ルール", "rule", data.name) from exc
    return rule


async def delete_rule(session: AsyncSession, *, tenant_code: str, rule_id: int) -> None:
    rule = await get_rule(session, tenant_code=tenant_code, rule_id=rule_id)
    await repository.remove(session, rule)
