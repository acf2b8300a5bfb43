"""URLs residents reach from a campaign's messages, on the tenant's ``public_base_url``.

``click_url`` is the node's click counter (``GET /c/{tenant}/{campaign}/{phase}``: +1, then a
302 to the application page); ``application_url`` is the LIFF application page. Neither carries
anything about the resident.
"""

from __future__ import annotations

from urllib.parse import quote


def _base(base_url: str) -> str:
    base = base_url.strip().rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise ValueError(f"public_base_url must be an http(s) URL: {base_url!r}")
    return base


def click_url(base_url: str, tenant_code: str, campaign_id: int, phase: str) -> str:
    """The redirect that counts a tap on a phase's button (no cookie, no per-resident id)."""
    return (
        f"{_base(base_url)}/c/{quote(tenant_code, safe='')}/{int(campaign_id)}/"
        f"{quote(phase, safe='')}"
    )


def application_url(base_url: str, tenant_code: str, campaign_id: int) -> str:
    """The campaign's application page (LIFF)."""
    return f"{_base(base_url)}/liff/{quote(tenant_code, safe='')}/campaigns/{int(campaign_id)}"
