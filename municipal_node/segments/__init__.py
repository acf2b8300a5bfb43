"""Segments (セグメント): who a send reaches, declared as data and evaluated by streaming.

``SegmentSpec`` (``spec``) holds the criteria; ``stream_recipients`` (``stream``) pages through
the tenant's current, non-stopped friends that match, in ``user_id`` order, one SQL statement
per page (``repository``), decrypting sealed attributes only when the spec asks about them
(``match``). Saved segments, live counts and previews (with the small-cell rule) are in
``service`` and ``endpoints``.
"""

from municipal_node.segments.spec import LocalCriteria, SegmentSpec
from municipal_node.segments.stream import (
    Recipient,
    StreamStats,
    count_recipients,
    stream_recipients,
)

__all__ = [
    "LocalCriteria",
    "Recipient",
    "SegmentSpec",
    "StreamStats",
    "count_recipients",
    "stream_recipients",
]
