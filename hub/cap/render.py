"""A notice as an OASIS CAP 1.2 ``alert`` (XML built with ElementTree: every text is escaped).

Mapping (CAP 1.2 element ← notice):

- ``identifier`` ← ``<hub id>:<publisher>:<notice_id>``; ``sender`` ← ``<publisher>@<hub id>``
- ``sent`` ← ``sent``; ``status`` ← ``status`` (Actual/Exercise/Test are CAP values);
  ``msgType`` ← ``msg_type`` (Alert/Update/Cancel are CAP values); ``scope`` = ``Public``
- ``note`` ← ``cancel_reason`` (Cancel only)
- ``references`` ← each reference as ``sender,identifier,sent`` (the referenced notice's own
  ``sent``), space-separated
- one ``info``: ``language`` = ``ja-JP``, ``category`` = ``Other`` (administrative notices fit no
  other CAP category), ``event`` ← ``program.name``, ``urgency``/``severity``/``certainty`` from
  ``CAP_GRADING`` by notice category — ``Future``/``Minor``/``Observed`` for every category:
  a benefit, procedure, regulation, health or event notice asks for action in the coming
  days or weeks (not within the hour), threatens no life or property, and states a fact;
  ``eventCode`` ``todoke:program`` ← ``program.code``; ``effective``, ``expires``;
  ``senderName`` ← the publisher's registered name; ``headline``, ``description`` ←
  ``content.ja``; ``instruction`` ← ``action.how_to_apply``; ``web`` ← ``action.url``
- ``area``: ``areaDesc`` (``全国`` for ``00``, prefecture names, else the code) and one
  ``geocode`` per area code with ``valueName`` ``JIS X 0402``.

Times are CAP ``dateTime``: seconds precision, explicit offset, UTC written ``-00:00``.
Characters XML 1.0 cannot carry (C0 controls other than tab/LF/CR) become U+FFFD.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.notice import Notice

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CONTENT_TYPE = "application/xml; charset=utf-8"
GEOCODE_NAME = "JIS X 0402"

#: notice category → (urgency, severity, certainty); see the module docstring
CAP_GRADING: Mapping[str, tuple[str, str, str]] = {
    "benefit": ("Future", "Minor", "Observed"),
    "procedure": ("Future", "Minor", "Observed"),
    "regulation": ("Future", "Minor", "Observed"),
    "health": ("Future", "Minor", "Observed"),
    "event": ("Future", "Minor", "Observed"),
}

PREFECTURES = (
    "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 "
    "神奈川県 新潟県 富山県 石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 "
    "大阪府 兵庫県 奈良県 和歌山県 鳥取県 島根県 岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県 "
    "福岡県 佐賀県 長崎県 熊本県 大分県 宮崎県 鹿児島県 沖縄県"
).split()

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class CapReference:
    """A notice referenced by the exported one, as CAP needs it."""

    publisher: str
    notice_id: str
    sent: datetime


def cap_time(value: datetime) -> str:
    """CAP 1.2 dateTime: ``YYYY-MM-DDThh:mm:ss±hh:mm``, UTC as ``-00:00``, no fractions."""
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("CAP times need an offset")
    stamp = value.replace(microsecond=0, tzinfo=None).isoformat()
    if offset == timedelta(0):
        return f"{stamp}-00:00"
    sign = "+" if offset > timedelta(0) else "-"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{stamp}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def cap_identifier(hub_id: str, publisher: str, notice_id: str) -> str:
    return f"{hub_id}:{publisher}:{notice_id}"


def cap_sender(hub_id: str, publisher: str) -> str:
    return f"{publisher}@{hub_id}"


def area_description(areas: Sequence[str]) -> str:
    names = []
    for code in areas:
        if code == "00":
            names.append("全国")
        elif len(code) == 2 and 1 <= int(code) <= len(PREFECTURES):
            names.append(PREFECTURES[int(code) - 1])
        else:
            names.append(code)
    return "、".join(names)


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def _add(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
    if text is not None:
        element.text = _text(text)
    return element


def render_cap(
    notice: Notice,
    *,
    hub_id: str,
    publisher_name: str | None,
    references: Sequence[CapReference],
) -> bytes:
    """The CAP 1.2 XML document (UTF-8, with declaration), elements in the schema's order."""
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _add(alert, "identifier", cap_identifier(hub_id, notice.publisher, notice.notice_id))
    _add(alert, "sender", cap_sender(hub_id, notice.publisher))
    _add(alert, "sent", cap_time(notice.sent))
    _add(alert, "status", str(notice.status))
    _add(alert, "msgType", str(notice.msg_type))
    _add(alert, "scope", "Public")
    if notice.cancel_reason is not None:
        _add(alert, "note", notice.cancel_reason)
    if references:
        _add(
            alert,
            "references",
            " ".join(
                ",".join(
                    (
                        cap_sender(hub_id, ref.publisher),
                        cap_identifier(hub_id, ref.publisher, ref.notice_id),
                        cap_time(ref.sent),
                    )
                )
                for ref in references
            ),
        )
    info = _add(alert, "info")
    _add(info, "language", "ja-JP")
    _add(info, "category", "Other")
    _add(info, "event", notice.program.name)
    urgency, severity, certainty = CAP_GRADING[str(notice.category)]
    _add(info, "urgency", urgency)
    _add(info, "severity", severity)
    _add(info, "certainty", certainty)
    event_code = _add(info, "eventCode")
    _add(event_code, "valueName", "todoke:program")
    _add(event_code, "value", notice.program.code)
    _add(info, "effective", cap_time(notice.effective))
    _add(info, "expires", cap_time(notice.expires))
    if publisher_name:
        _add(info, "senderName", publisher_name)
    _add(info, "headline", notice.content.ja.headline)
    _add(info, "description", notice.content.ja.body)
    action = notice.action
    if action is not None and action.how_to_apply is not None:
        _add(info, "instruction", action.how_to_apply)
    if action is not None and action.url is not None:
        _add(info, "web", action.url)
    area = _add(info, "area")
    _add(area, "areaDesc", area_description(notice.area))
    for code in notice.area:
        geocode = _add(area, "geocode")
        _add(geocode, "valueName", GEOCODE_NAME)
        _add(geocode, "value", code)
    document: bytes = ET.tostring(
        alert, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS
    )
    return document
