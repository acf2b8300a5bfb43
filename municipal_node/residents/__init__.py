"""Residents: the core system's resident list, imported from CSV (see ``csv_format``).

Import (``service``): one transaction — a streaming pass validates every line and stages the
good rows (sealed, with a keyed content digest) in a temporary table (``COPY`` on PostgreSQL);
repeated ids and clashing LINE links are found in SQL; then absent residents are removed and
only new or changed rows are upserted. An empty CSV ``line_user_id`` keeps a link made by
ID連携. Sensitive attributes are sealed per row with AES-GCM; district and LINE user id stay
plain (selection and linking need them in SQL).
"""
