"""Staff accounts (職員アカウント), their roles per tenant, and sign-in sessions.

- ``service.py`` manages accounts: create, role per tenant, enable/disable, password resets.
  A tenant admin only ever sees and touches staff who hold a role on that tenant; changes that
  would reach into another tenant (disabling or resetting a staff member shared with it) need
  admin on every tenant involved.
- ``sessions.py`` signs staff in and out: argon2id password check (in a thread), lockout after
  repeated failures, opaque session tokens stored only as their SHA-256, and
  ``resolve_principal``, registered with ``municipal_node.api.auth`` so that every
  ``tenant_access(...)`` route accepts staff tokens.
- ``endpoints.py`` is the HTTP surface; ``todoke/commands/node_staff.py`` the CLI.
"""
