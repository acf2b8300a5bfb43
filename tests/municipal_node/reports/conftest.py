"""The campaign rig of the KPI tests (one clock for node, hub and sandbox)."""

from __future__ import annotations

from tests.municipal_node.kpis.conftest import hub_clock, live_sandbox, rig

__all__ = ["hub_clock", "live_sandbox", "rig"]
