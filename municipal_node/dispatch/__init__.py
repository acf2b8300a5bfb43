"""The dispatch engine: from a stored notice to LINE multicasts, exactly once.

``planner``: a stored notice → one ``send_jobs`` row per (notice, phase) from the relay decision
(``relay_rules.decide.plan_for``) → the segment streamed (``segments.stream_recipients``) into
``outbox_batches`` of ≤ 500 user ids, committed in chunks with the job's resume cursor
``plan_after``; ``approval`` jobs stop in ``held``.
``pool`` / ``sender``: claim batches (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a lease), take
tokens of the channel's bucket (``delivery.ratelimit``), drop users no longer reachable, send
with the batch's deterministic ``X-Line-Retry-Key`` (``keys``) through ``delivery.line_client``,
record outcomes in short transactions; 429/5xx/timeouts are retried later, 409 is a delivery.
``control``: release, cancel (staff, hub ``Cancel``/``Update``), the sweep, the views behind
``endpoints`` and ``todoke node sends`` / ``cancel-send``.
``worker``: the per-tenant dispatcher of ``todoke node serve`` (planner loop + senders);
``municipal_node.workers.SendWorkers`` runs senders only (``todoke node dispatch-worker``).
"""
