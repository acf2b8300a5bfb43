"""Due work in the database: campaign phases, recurring notices and date triggers.

A ``scheduled_tasks`` row is one thing to do at one moment (``due_at``); a claim with a lease
lets several node processes share the work, and the task's effect is committed in the same
transaction that marks it done, so it happens once. See ``scheduler.models``.
"""
