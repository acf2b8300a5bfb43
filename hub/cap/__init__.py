"""CAP export: a stored notice as an OASIS CAP 1.2 alert (``GET /notices/{publisher}/{notice_id}/cap.xml``),
so L-Alert-style receivers and CAP aggregators can read what the hub relays.

``render.py`` maps a verified notice to CAP (pure, field by field, mapping documented there);
``endpoints.py`` looks the notice and the notices it references up and serves the XML.
"""
