"""Relay rules (配信ルール), message templates and send approvals (承認).

A relayed notice meets the tenant's rules in ``decide.plan_for``: the first matching rule
says who receives it (a saved segment or the notice's own audience, optionally narrowed),
in which wording (a template, rendered by ``render`` to a LINE text + Flex message) and how
(``auto``, or ``approval``: held until approvers release it — ``approvals``). Templates are
checked on save (``checks``): no personal data can ever be placed into a message.
"""
