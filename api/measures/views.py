"""The routers of objectives, measures and the calibration log, as the app includes them."""

from __future__ import annotations

from fastapi import APIRouter

from api.measures.calibration_views import router as calibrations
from api.measures.measure_views import router as measures
from api.measures.objective_views import router as objectives

router = APIRouter()
for part in (objectives, measures, calibrations):
    router.include_router(part)
