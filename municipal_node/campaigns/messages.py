"""The LINE messages of a campaign phase: a text message and a Flex bubble, rendered by
``relay_rules.render`` (same layout, limits and placeholder rules as relayed notices). The
受付開始 and 締切前リマインド phases get a button to the node's click counter
(``links.click_url``, which leads to the application page) when the tenant has a public
https ``public_base_url``; the 予告 keeps the notice's own link. Nothing about any resident."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from municipal_node.campaigns.links import click_url
from municipal_node.campaigns.models import CampaignPhaseName
from municipal_node.relay_rules.render import (
    NoticeFields,
    TemplateFields,
    is_button_url,
    render_messages,
)

PHASE_TEXT: dict[str, str] = {
    CampaignPhaseName.PREVIEW: (
        "【{自治体名}】{見出し}（予告）\n\n"
        "{受付開始}から申請の受付が始まります。\n"
        "受付期間: {受付開始}〜{締切}\n\n"
        "{本文}\n\n"
        "詳しくは: {受付URL}"
    ),
    CampaignPhaseName.OPEN: (
        "【{自治体名}】{見出し}\n\n"
        "申請の受付が始まりました。\n"
        "締切: {締切}\n\n"
        "{本文}\n\n"
        "申請はこちら: {受付URL}"
    ),
    CampaignPhaseName.REMINDER: (
        "【{自治体名}】{見出し}（締切が近づいています）\n\n"
        "締切は {締切} です。まだ申請されていない方は、お早めに申請してください。\n"
        "（すでに申請された方にはお送りしていません）\n\n"
        "申請はこちら: {受付URL}"
    ),
}
PHASE_ALT: dict[str, str] = {
    CampaignPhaseName.PREVIEW: "【{自治体名}】予告: {見出し}",
    CampaignPhaseName.OPEN: "【{自治体名}】受付開始: {見出し}",
    CampaignPhaseName.REMINDER: "【{自治体名}】締切間近: {見出し}",
}
PHASE_BUTTON: dict[str, str] = {
    CampaignPhaseName.PREVIEW: "詳しく見る",
    CampaignPhaseName.OPEN: "申請する",
    CampaignPhaseName.REMINDER: "申請する",
}
_HEADLINE_MARK: dict[str, str] = {
    CampaignPhaseName.PREVIEW: "【予告】",
    CampaignPhaseName.OPEN: "【受付開始】",
    CampaignPhaseName.REMINDER: "【締切間近】",
}


def phase_template(
    phase: str,
    *,
    tenant_code: str,
    campaign_id: int,
    public_base_url: str | None,
    text: str | None = None,
    alt_text: str | None = None,
) -> TemplateFields:
    """The template of one phase (staff may replace ``text`` / ``alt_text``)."""
    fields = TemplateFields(
        text=text or PHASE_TEXT[phase],
        button_label=PHASE_BUTTON[phase],
        button_url="{受付URL}",
        alt_text=alt_text or PHASE_ALT[phase],
    )
    if phase != CampaignPhaseName.PREVIEW and public_base_url:
        target = click_url(public_base_url, tenant_code, campaign_id, phase)
        if is_button_url(target):
            fields = replace(fields, button_url=target, apply_url=target)
    return fields


def phase_messages(
    phase: str,
    notice: NoticeFields,
    *,
    tenant_name: str,
    tenant_code: str,
    campaign_id: int,
    public_base_url: str | None,
    text: str | None = None,
    alt_text: str | None = None,
) -> list[dict[str, Any]]:
    """``[text, flex]`` for ``phase`` of the campaign of ``notice``."""
    template = phase_template(
        phase,
        tenant_code=tenant_code,
        campaign_id=campaign_id,
        public_base_url=public_base_url,
        text=text,
        alt_text=alt_text,
    )
    messages = render_messages(template, notice, tenant_name=tenant_name)
    # the bubble's headline says which phase it is (the text and altText say it already)
    body = messages[1]["contents"]["body"]["contents"]
    body[0] = {**body[0], "text": _HEADLINE_MARK[phase] + notice.headline}
    return messages
