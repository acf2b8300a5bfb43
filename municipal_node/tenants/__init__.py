"""Tenants: one municipality each, with its hub, pinned hub root keys and LINE channel.

LINE channel secret and access token are sealed with the node's AES-GCM key
(associated data ``"tenant:<code>:line_channel_secret"`` / ``"...:line_access_token"``), and so
is the subscriber credential the hub issued for the municipality (``"...:hub_credential"``),
which the feed reads and the live subscription present as ``Authorization: Bearer``.
"""
