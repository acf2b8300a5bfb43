"""Privacy machinery of the node: key rotation of every sealed column, and retention.

- ``sealed_columns``: the registry of columns holding AES-GCM blobs (``register_sealed_column``).
  Built-in entries are in ``builtin``; a module that db/metadata imports may register more.
- ``rotation``: ``todoke node rotate-key`` re-seals every registered column under the current
  key, batch by batch (each batch its own transaction; re-running resumes, since blobs already
  under the current key are skipped in SQL).
- ``retention``: the registry of retention policies (``register_retention_policy``), ``purge``
  (``todoke node purge``, and daily in a running node: ``schedule``); built-in policies are in
  ``policies``.
"""
