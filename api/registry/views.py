"""Registry and configuration routes (issue 6 item 2): the organisation tree, meters and their
replacements, the gateways and what they may send, factor overrides, targets and baselines,
and the audit log read (clause 7.3).

Each resource has its own module; ``router`` gathers them for ``api.app``.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.registry import (
    audit_views,
    factors,
    gateways,
    meter_import_views,
    meter_views,
    org_views,
    park_views,
    proposals,
    targets,
)

router = APIRouter()
# The import routes before meter_views: /v1/meters/import-template is not a meter id.
for _module in (
    park_views,
    org_views,
    meter_import_views,
    meter_views,
    gateways,
    factors,
    targets,
    proposals,
    audit_views,
):
    router.include_router(_module.router)
