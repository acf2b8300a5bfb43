"""Delivery reports from municipal nodes (CONTRACT §6) and the cross-municipality view.

- ``mutations.py``: ``submitReport`` — a subscriber (``Authorization: Bearer``) sends its
  node-signed report (``typ`` ``todoke-report+jws``, Ed25519) as a flattened JWS ``envelope``
  (CONTRACT §7) or a compact JWS ``report``. ``service.submit_report`` verifies it with the
  ``node_jwk`` registered for that subscriber (``todoke hub add-subscriber
  --node-public-key``), so a report signed by another tenant's key fails (``BAD_SIGNATURE``),
  checks ``municipality`` is
  the caller's (``WRONG_PUBLISHER``), the suppression rules (``contracts.report``,
  ``SCHEMA_INVALID``), and that the notice is the hub's and addressed to the caller. It keeps
  the latest report per (municipality, notice, phase): a later ``as_of`` replaces it, the same
  report again is ``DUPLICATE``, an older one is ``OUTDATED`` (kept out), the same ``as_of``
  with other counts is ``EQUIVOCATION``. Rate-limited from the write budget (``limits.py``).
- ``queries.py``: ``deliveryReports(publisher, noticeId)`` — per phase and municipality, the
  counts as published (null where withheld) and phase totals computed by
  ``service.phase_totals``: over published cells only, labelled ``complete`` or partial with
  the number of municipalities that withheld the count. The hub never receives a withheld
  value, so no total can reveal one.
- ``endpoints.py`` / ``render.py``: the same view as public Japanese HTML pages, ``GET /reports``
  (notices with reports) and ``GET /reports/{publisher}/{notice_id}`` (秘匿 for withheld cells,
  ＊ on partial totals).
- ``deliveryReports`` and the pages are public, like the key set and the CAP export: a report
  is a suppressed aggregate with no personal data, published for cross-municipality comparison.
"""
