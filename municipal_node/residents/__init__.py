"""Residents: the core system's resident list, imported from CSV (see ``csv_format``).

Import = validate the whole file (thread) → if clean, one transaction: unlink LINE ids,
upsert in batches of 1,000 (executemany), delete rows the file no longer has, audit row.
Sensitive attributes are sealed per row with AES-GCM; district and LINE user id stay plain.
"""
