from __future__ import annotations

import pytest

from municipal_node.settings import NodeSettings
from tests.municipal_node.conftest import Node
from tests.municipal_node.staff.client import OTHER_TENANT


@pytest.fixture
def node_settings(node_settings: NodeSettings) -> NodeSettings:
    """Cheap argon2id parameters: these tests hash many passwords (the defaults are for real)."""
    return node_settings.model_copy(
        update={
            "staff_password_time_cost": 1,
            "staff_password_memory_kib": 1024,
            "staff_password_parallelism": 1,
        }
    )


@pytest.fixture
async def tenants(node: Node) -> tuple[str, str]:
    """Two tenants: TENANT (弥富市) and OTHER_TENANT."""
    await node.add_tenant()
    await node.add_tenant(code=OTHER_TENANT)
    return ("23235", OTHER_TENANT)
