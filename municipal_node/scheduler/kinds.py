"""Imports every module that registers a scheduled-task handler, so a process that runs the
scheduler knows every kind. Add one import line per handler module (shared, additive)."""

from __future__ import annotations

import municipal_node.campaigns.handlers  # noqa: F401  # campaign_phase
import municipal_node.recurring.handlers  # noqa: F401  # recurring
import municipal_node.triggers.handlers  # noqa: F401  # triggers_daily
