"""Database plumbing: one DeclarativeBase, engine/session factories, Alembic upgrade.

Plain URLs (``sqlite:///x.db``, ``postgresql://...``) come in from settings; the async
driver URL is derived here (aiosqlite / psycopg). Migrations run with a sync engine.
"""
