"""Read-only status of a tenant: stored notices with their send counts, and rejections."""
