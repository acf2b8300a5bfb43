"""Publishers: the registry of publishers and their keys (``registry.py``), verify-and-store
publishing (``service.py``), the GraphQL mutation (``mutations.py``) and the client that signs
locally and submits over HTTP (``client.py``).

Publish flow: size check → ``contracts.verify.verify_notice`` with the key the header names →
sequence row lock → lifecycle rules (duplicate, equivocation, references, revisions) →
``UPDATE … RETURNING`` for the next seq → insert notice and signed receipt, one transaction.
"""
