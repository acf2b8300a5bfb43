"""LINE friends of each tenant's official account: webhook, inbox, 受信設定, rich menu.

``POST /line/{code}/webhook`` (``endpoints.py`` → ``service.py``): verify ``x-line-signature``
with the tenant's channel secret (``linebot.v3.webhook.WebhookParser``), then in one
transaction store every new event as a ``pending`` row of ``line_inbox`` (unique per
``webhookEventId``: redeliveries dedupe) and apply ``follow`` / ``unfollow`` to
``line_friends`` (a later event timestamp wins). No LINE call in the request; the tenant's
inbox worker is woken.

``inbox_worker.py`` acts on the rows in order, exactly once (see its docstring);
``conversation.py`` decides what an event does (受信設定 in ``preferences.py``, ID連携 in
``municipal_node.linking``) and ``messages.py`` words the replies; ``replies.py`` is the one
place the worker calls LINE. ``richmenu.py`` builds and installs the rich menu.
"""
