"""Todoke municipal node (自治体ノード): the municipality side, multi-tenant.

Flow per tenant (see ``workers``): ``relay.follower`` reads the hub feed and verifies every
item itself (key set against pinned root keys, receipt, envelope) → stores notice + cursor in
one transaction → ``dispatch.worker`` selects matching LINE friends among imported residents
(``residents``, attributes sealed with AES-GCM) into an outbox of ≤ 500-user batches →
``delivery.line_client`` multicasts with a deterministic retry key. Friendship comes from the
LINE webhook (``line``). ``status`` reports per notice; ``audit`` records imports and sends.
"""
