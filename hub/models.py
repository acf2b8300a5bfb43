"""All tables of the hub on one metadata, for Alembic and the models-vs-migrations test."""

from __future__ import annotations

from hub.db import Base
from hub.publishers import models as publishers
from hub.stats import models as stats
from hub.subscribers import models as subscribers

metadata = Base.metadata

__all__ = ["metadata", "publishers", "stats", "subscribers"]
