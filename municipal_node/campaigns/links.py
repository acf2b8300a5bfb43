"""URLs residents reach from a campaign's messages, on the tenant's ``public_base_url``.

``click_url`` is the node's click counter (``GET /c/{tenant}/{campaign}/{phase}``: +1, then a
302 to the form); ``liff_url`` is the form's LIFF URL (``https://liff.line.me/{LIFF ID}/campaigns/
{id}``: LINE opens the LIFF app's endpoint URL — register ``endpoint_url`` below in the LINE
Developers console — with ``/campaigns/{id}`` appended, in the LIFF browser, logged in);
``application_url`` is the page itself. None carries anything about the resident.
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
    return f"{endpoint_url(base_url, tenant_code)}/campaigns/{int(campaign_id)}"


def endpoint_url(base_url: str, tenant_code: str) -> str:
    """The LIFF app's endpoint URL to register with LINE for this tenant."""
    return f"{_base(base_url)}/liff/{quote(tenant_code, safe='')}"


def liff_url(liff_url_base: str, liff_id: str, campaign_id: int) -> str:
    """The campaign's form as a LIFF URL (opens ``endpoint_url`` + ``/campaigns/{id}``)."""
    return f"{_base(liff_url_base)}/{quote(liff_id, safe='')}/campaigns/{int(campaign_id)}"
