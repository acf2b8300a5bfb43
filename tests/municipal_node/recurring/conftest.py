from __future__ import annotations

import pytest

from municipal_node.settings import NodeSettings


@pytest.fixture
def node_settings(node_settings: NodeSettings) -> NodeSettings:
    """Cheap argon2id parameters: these tests sign staff in (the defaults are for real)."""
    return node_settings.model_copy(
        update={
            "staff_password_time_cost": 1,
            "staff_password_memory_kib": 1024,
            "staff_password_parallelism": 1,
        }
    )
