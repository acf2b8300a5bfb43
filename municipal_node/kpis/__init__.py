"""Campaign KPIs: reach, opens, clicks and applications per phase (aggregates only)."""
