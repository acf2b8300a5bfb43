"""The hub's GraphQL API (strawberry, code-first). Resolvers live with their domain
(``hub/publishers/mutations.py``, ``hub/subscribers/queries.py``) and stay thin: parse, call a
service, render. ``hub/schema.graphql`` is generated from here (``python -m hub.schema_export``)."""
