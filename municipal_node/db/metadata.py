"""Import every model so ``Base.metadata`` is complete (Alembic, tests)."""

from __future__ import annotations

from municipal_node.applications import models as applications_models
from municipal_node.audit import models as audit_models
from municipal_node.campaigns import models as campaigns_models
from municipal_node.db.base import Base
from municipal_node.dispatch import models as dispatch_models
from municipal_node.line import models as line_models
from municipal_node.linking import models as linking_models
from municipal_node.recurring import models as recurring_models
from municipal_node.relay import models as relay_models
from municipal_node.relay_rules import models as relay_rules_models
from municipal_node.reports import models as reports_models
from municipal_node.residents import models as residents_models
from municipal_node.scheduler import models as scheduler_models
from municipal_node.segments import models as segments_models
from municipal_node.staff import models as staff_models
from municipal_node.tenants import models as tenants_models
from municipal_node.triggers import models as triggers_models

MODEL_MODULES = (
    tenants_models,
    residents_models,
    line_models,
    linking_models,
    relay_models,
    dispatch_models,
    audit_models,
    segments_models,
    relay_rules_models,
    staff_models,
    campaigns_models,
    applications_models,
    scheduler_models,
    recurring_models,
    triggers_models,
    reports_models,
)
metadata = Base.metadata

__all__ = ["MODEL_MODULES", "metadata"]
