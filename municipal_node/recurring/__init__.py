"""Recurring local notices (定期通知): "児童扶養手当 is paid on the 11th of odd months; notify two
days before, on the previous business day when the 11th is a holiday".

A rule (``models.RecurringRule``) is an RFC 5545 RRULE plus a business-day adjustment, a lead
time and a send time (``dates``), a segment and generic wording (``content``). The scheduler
always holds the rule's next occurrence as a ``recurring`` task (key
``recurring:<rule>:<RRULE date>``); when it is due, ``handlers`` creates the send job
(publisher ``local``, notice id ``r<rule>-<YYYYMMDD>``, phase ``notice`` — unique, so once) and
schedules the next occurrence in the same transaction (``service.ensure_next``). A missed
occurrence (node down past the catch-up window) is not sent; the chain goes on from it.
Date triggers (``municipal_node.triggers``) reuse the wording and its checks.
"""
