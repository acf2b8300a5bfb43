"""Subscribers (municipal nodes): the seq-ordered cursor feed (``service.py``) and the hub's
signed key set (``keyset.py``), exposed as GraphQL queries (``queries.py``). Node registration
and credentials come later; today the feed is open."""
