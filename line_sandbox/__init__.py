"""A faithful stand-in for the LINE Messaging API, run as a real HTTP server.

Flow of one LINE API call (``messaging.py`` → ``pipeline.py``):

1. the raw body is read (more than 2 MB → 413) and the bearer token picks the channel (else 401);
2. ``X-Line-Retry-Key`` is checked (UUID, allowed endpoint), then the per-channel, per-endpoint
   sliding-window rate limit (``ratelimit.py``; over it → 429, nothing processed) and injected
   faults (``faults.py``: a queue of N failing calls, or a seeded random profile of 500s,
   timeouts before or after acceptance and 429 bursts);
3. the JSON body is parsed (400); an already accepted retry key → 409 with
   ``x-line-accepted-request-id`` (push repeats ``sentMessages``);
4. the endpoint validates the body by hand (``validation.py``, LINE's wording; 400);
5. the request is stored once (``store.py``); each recipient who is a current friend gets one
   more delivery on its counter and the request's index appended to a compact per-user inbox;
   the retry key is then consumed;
6. every exchange, successful or not, is kept raw in a bounded ring buffer (``/sandbox/exchanges``).

Bench channels (``roster.py``, ``counting.py``, ``admin_bench.py``) hold a million friends whose
ids are computed from their index, and keep only the counters: no stored requests, no inboxes,
no bodies in the exchange log. ``app.routers()`` lists every router in matching order.

Simulated residents (``residents.py``) follow and unfollow through the admin API
(``admin.py``); their webhooks are signed and sent like LINE's (``webhooks.py``), with one
redelivery marked ``isRedelivery`` when the bot answers non-2xx or times out. ``chat.py`` renders
each resident's talk screen as HTML. All state lives in ``app.state.sandbox`` (built in the
lifespan of ``app.create_app``).
"""
