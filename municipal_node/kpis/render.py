"""The KPI table staff read in a terminal (Japanese; aggregates only)."""

from __future__ import annotations

import unicodedata

from municipal_node.kpis.insight import OpenedNote
from municipal_node.kpis.schemas import CampaignKpis


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(_width(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell + " " * (w - _width(cell)) for cell, w in zip(cells, widths, strict=True)
        )

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def render_kpis(kpis: CampaignKpis) -> str:
    """The Japanese table staff read (one row per phase, then the application figures)."""
    lines = [
        f"キャンペーン {kpis.campaign_id}: {kpis.title}",
        f"  通知 {kpis.publisher}/{kpis.notice_id}  状態 {kpis.state}",
        f"  受付期間 {kpis.opens_at.isoformat()} 〜 {kpis.closes_at.isoformat()}",
        f"  集計時点 {kpis.as_of.isoformat()}",
        "",
    ]
    headers = ["段階", "状態", "対象", "送信", "失敗", "ブロック", "開封", "クリック", "申請"]
    rows = []
    for p in kpis.phases:
        opened = _num(p.opened)
        if p.opened is None and p.opened_note != OpenedNote.OK:
            opened = f"- ({OpenedNote.LABELS_JA.get(p.opened_note, p.opened_note)})"
        rows.append(
            [
                p.label_ja,
                p.job_state or p.state,
                _num(p.targeted),
                _num(p.sent),
                _num(p.failed),
                _num(p.blocked),
                opened,
                _num(p.clicked),
                _num(p.applied),
            ]
        )
    lines.append(_table(headers, rows) if rows else "（段階がありません / no phases）")
    a = kpis.applications
    diff = "-" if a.vs_baseline_points is None else f"{a.vs_baseline_points:+.1f} ポイント"
    lines += [
        "",
        f"申請 合計 {_num(a.total)} / 受付期間内 {_num(a.in_window)}",
        f"  リマインド前に申請（リマインド不要）{_num(a.before_reminder)}"
        f" / リマインド後に申請 {_num(a.after_reminder)}",
        f"  対象者 {_num(a.segment)} のうち期間内申請 {_pct(a.in_time_rate)}"
        f"（昨年度 {_pct(a.baseline_rate)}、差 {diff}）",
    ]
    return "\n".join(lines)
