"""``/api/tenants/{code}/templates`` and ``/relay-rules``: editors write, viewers read."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import ValidationError

from contracts.notice import Notice
from municipal_node.api.auth import Role, TenantAccess, tenant_access
from municipal_node.api.deps import SessionDep, StateDep
from municipal_node.relay_rules import repository, service
from municipal_node.relay_rules.render import (
    DEFAULT_TEMPLATE,
    NoticeFields,
    TemplateFields,
    render_messages,
    utf16_units,
)
from municipal_node.relay_rules.schemas import (
    RuleIn,
    RuleOut,
    TemplateIn,
    TemplateOut,
    TemplatePreviewIn,
    TemplatePreviewOut,
    template_fields,
)
from municipal_node.segments.http_errors import ApiRoute, from_validation_error

router = APIRouter(prefix="/api/tenants/{code}", route_class=ApiRoute, tags=["relay rules"])

Editor = Annotated[TenantAccess, Depends(tenant_access(Role.EDITOR))]
Viewer = Annotated[TenantAccess, Depends(tenant_access(Role.VIEWER, Role.EDITOR, Role.APPROVER))]

_SAMPLE_ID = "01JZ0000000000000000000000"


def sample_notice(now: datetime) -> Notice:
    """A typical notice (児童扶養手当 現況届) for previews."""

    def at(delta: timedelta) -> str:
        return (now + delta).isoformat()

    return Notice.model_validate(
        {
            "schema": "todoke.notice/1",
            "publisher": "gov-cfa",
            "notice_id": _SAMPLE_ID,
            "document_id": _SAMPLE_ID,
            "revision": 1,
            "msg_type": "Alert",
            "status": "Test",
            "sent": at(timedelta(minutes=-1)),
            "effective": at(timedelta()),
            "expires": at(timedelta(days=60)),
            "category": "procedure",
            "program": {
                "code": "jido-fuyo-teate",
                "name": "児童扶養手当",
                "legal_basis": "児童扶養手当法",
            },
            "area": ["00"],
            "audience": {"household": ["single_parent"]},
            "action": {
                "opens": at(timedelta(days=1)),
                "closes": at(timedelta(days=31)),
                "url": "https://www.example.lg.jp/jido-fuyo/genkyo",
            },
            "content": {
                "ja": {
                    "headline": "児童扶養手当の現況届の受付が始まります",
                    "body": "児童扶養手当を受けている方は、現況届を期限までに提出してください。"
                    "提出がないと11月分以降の手当が受けられません。",
                }
            },
        }
    )


# --- templates ---------------------------------------------------------------------------


@router.get("/templates")
async def list_templates(access: Viewer, session: SessionDep) -> list[TemplateOut]:
    return [TemplateOut.of(t) for t in await repository.list_templates(session, access.tenant_code)]


@router.post("/templates", status_code=201)
async def create_template(
    access: Editor, body: TemplateIn, session: SessionDep, state: StateDep
) -> TemplateOut:
    """Saved only if it passes every check (no personal data, known placeholders, sizes)."""
    row = await service.create_template(
        session,
        tenant_code=access.tenant_code,
        data=body,
        actor=access.actor,
        now=state.clock.now(),
    )
    return TemplateOut.of(row)


@router.post("/templates/preview")
async def preview_template(
    access: Viewer, body: TemplatePreviewIn, session: SessionDep, state: StateDep
) -> TemplatePreviewOut:
    """The LINE messages a template makes for a notice (a sample notice by default)."""
    fields: TemplateFields = DEFAULT_TEMPLATE
    if body.template_id is not None:
        saved = await service.get_template(
            session, tenant_code=access.tenant_code, template_id=body.template_id
        )
        fields = template_fields(saved)
    elif body.template is not None:
        fields = body.template.fields()
        await service.refuse_bad_template(session, tenant_code=access.tenant_code, fields=fields)
    if body.notice is None:
        notice = sample_notice(state.clock.now())
    else:
        try:
            notice = Notice.model_validate(body.notice)
        except ValidationError as exc:
            raise from_validation_error(exc, prefix="notice") from exc
    name = await service.tenant_name(session, access.tenant_code)
    messages = render_messages(fields, NoticeFields.of(notice), tenant_name=name)
    return TemplatePreviewOut(
        messages=messages,
        text_units=utf16_units(str(messages[0]["text"])),
        alt_text_units=utf16_units(str(messages[1]["altText"])),
    )


@router.get("/templates/{template_id}")
async def get_template(access: Viewer, template_id: int, session: SessionDep) -> TemplateOut:
    row = await service.get_template(
        session, tenant_code=access.tenant_code, template_id=template_id
    )
    return TemplateOut.of(row)


@router.put("/templates/{template_id}")
async def replace_template(
    access: Editor, template_id: int, body: TemplateIn, session: SessionDep, state: StateDep
) -> TemplateOut:
    row = await service.replace_template(
        session,
        tenant_code=access.tenant_code,
        template_id=template_id,
        data=body,
        actor=access.actor,
        now=state.clock.now(),
    )
    return TemplateOut.of(row)


@router.delete("/templates/{template_id}", status_code=204)
async def delete_template(access: Editor, template_id: int, session: SessionDep) -> Response:
    await service.delete_template(session, tenant_code=access.tenant_code, template_id=template_id)
    return Response(status_code=204)


# --- rules -------------------------------------------------------------------------------


@router.get("/relay-rules")
async def list_rules(access: Viewer, session: SessionDep) -> list[RuleOut]:
    """In the order they are tried (priority, then id)."""
    return [RuleOut.of(r) for r in await repository.rules_in_order(session, access.tenant_code)]


@router.post("/relay-rules", status_code=201)
async def create_rule(
    access: Editor, body: RuleIn, session: SessionDep, state: StateDep
) -> RuleOut:
    rule = await service.create_rule(
        session,
        tenant_code=access.tenant_code,
        data=body,
        actor=access.actor,
        now=state.clock.now(),
    )
    return RuleOut.of(rule)


@router.get("/relay-rules/{rule_id}")
async def get_rule(access: Viewer, rule_id: int, session: SessionDep) -> RuleOut:
    return RuleOut.of(
        await service.get_rule(session, tenant_code=access.tenant_code, rule_id=rule_id)
    )


@router.put("/relay-rules/{rule_id}")
async def replace_rule(
    access: Editor, rule_id: int, body: RuleIn, session: SessionDep, state: StateDep
) -> RuleOut:
    rule = await service.replace_rule(
        session,
        tenant_code=access.tenant_code,
        rule_id=rule_id,
        data=body,
        actor=access.actor,
        now=state.clock.now(),
    )
    return RuleOut.of(rule)


@router.delete("/relay-rules/{rule_id}", status_code=204)
async def delete_rule(access: Editor, rule_id: int, session: SessionDep) -> Response:
    await service.delete_rule(session, tenant_code=access.tenant_code, rule_id=rule_id)
    return Response(status_code=204)
