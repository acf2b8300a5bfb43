"""LINE friends: the webhook endpoint for each tenant's official account.

``POST /line/{code}/webhook``: verify ``x-line-signature`` with the tenant's channel secret
(``linebot.v3.webhook.WebhookParser``), then in one transaction record each event id (the
primary key dedupes redeliveries) and apply ``follow`` / ``unfollow`` to ``line_friends``
(a later event timestamp wins). No outbound calls in the request: answer 200 at once.
"""
