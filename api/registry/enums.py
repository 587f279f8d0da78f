"""The registry's vocabularies as the database stores them (migrations 0001, 0004, 0010).

Where ``accounting`` has the same idea, its enum is used directly (``Carrier``,
``RegisterKind``); these are the registry's own words, or the stored spelling of an
``accounting`` enum whose values read differently.
"""

from __future__ import annotations

from enum import StrEnum

from accounting.baseline import RestatementReason as AccountingRestatementReason
from accounting.categories import SourceCategory


class MeterStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class MeterSourceCategory(StrEnum):
    """``accounting.categories.SourceCategory`` plus ``activity_only``: a meter whose quantity is
    recorded (power, water, output) but never turned into CO2e (clause 6.3.1 c 5)."""

    STATIONARY_COMBUSTION = SourceCategory.STATIONARY_COMBUSTION.value
    MOBILE_COMBUSTION = SourceCategory.MOBILE_COMBUSTION.value
    PROCESS = SourceCategory.PROCESS.value
    FUGITIVE = SourceCategory.FUGITIVE.value
    PURCHASED_ELECTRICITY = SourceCategory.PURCHASED_ELECTRICITY.value
    PURCHASED_HEAT = SourceCategory.PURCHASED_HEAT.value
    GREEN_SPACE_SINK = SourceCategory.GREEN_SPACE_SINK.value
    ACTIVITY_ONLY = "activity_only"


class MeteringLevel(StrEnum):
    """GB 17167's three metering levels as the registry stores them (``equipment`` is
    ``accounting.metering.MeteringLevel.MAJOR_EQUIPMENT``; stream/registry.py maps them)."""

    UNIT = "unit"
    SECONDARY_UNIT = "secondary_unit"
    EQUIPMENT = "equipment"


class SubjectKind(StrEnum):
    """What a target or a baseline is set for (clauses 6.2, 6.5)."""

    PARK = "park"
    ENTERPRISE = "enterprise"
    METER_GROUP = "meter_group"
    METER = "meter"


class PeriodKind(StrEnum):
    """A local calendar period of the park's time zone."""

    YEAR = "year"
    MONTH = "month"
    DAY = "day"


class BaselineMethod(StrEnum):
    BASE_YEAR = "base_year"
    REGRESSION = "regression"


class RestatementReason(StrEnum):
    """The three adjustment triggers of clause 6.5, as stored (``accounting.baseline`` spells
    each out: ``EXPLAINED``)."""

    PERFORMANCE_PARAMETERS = "performance_parameters"
    STATIC_FACTORS = "static_factors"
    FACTORS_OR_METHOD = "factors_or_method"


EXPLAINED: dict[RestatementReason, str] = {
    reason: AccountingRestatementReason[reason.name].value for reason in RestatementReason
}


class FactorCatalogue(StrEnum):
    """Which packaged catalogue a factor key belongs to."""

    EMISSION_FACTOR = "emission_factor"  # accounting/factors.py
    CONVERSION_PARAMETER = "conversion_parameter"  # accounting/parameters.py


class GatewayStatus(StrEnum):
    """A disabled gateway stays registered (its park keeps enforcing) and may send nothing."""

    ACTIVE = "active"
    DISABLED = "disabled"


class Language(StrEnum):
    """Languages of what people read (migration 0050): a park's default."""

    ZH_CN = "zh-CN"
    EN = "en"


class TceConvention(StrEnum):
    """Electricity in tce (GB/T 2589-2020, migration 0016): equal value (当量值, the heat of
    1 kWh) or equivalent value (等价值, the coal burnt to generate it)."""

    EQUAL_VALUE = "equal_value"
    EQUIVALENT = "equivalent"
