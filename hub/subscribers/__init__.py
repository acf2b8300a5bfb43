"""Subscribers (municipal nodes) of the hub.

- ``registry.py``: registered municipal nodes (5-digit municipality code, name, optional node
  report key, SHA-256 of a bearer credential printed once, suspension). CLI in
  ``todoke/commands/hub_subscribers.py``.
- ``service.py`` / ``queries.py``: the cursor feed ``notices`` (needs ``Authorization: Bearer``;
  otherwise ``UNAUTHENTICATED``). Only notices whose ``area`` covers the subscriber's
  municipality are returned, filtered in SQL through ``notice_areas`` (written in the publishing
  transaction); ``scannedTo`` tells the node how far the page looked.
- ``live.py``: the ``noticePublished`` subscription (graphql-transport-ws, authenticated in
  ``connection_init``, 4401 otherwise), hints ``{seq}`` only.
- ``fanout.py``: how a publish reaches live subscriptions, in one process (SQLite) or across
  replicas (PostgreSQL ``LISTEN/NOTIFY`` on ``todoke_notice_published``).
- ``keyset.py``: the hub's signed key set (public).
"""
