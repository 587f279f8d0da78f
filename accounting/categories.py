"""Emission-source categories of clause 6.3.1 c 5) and the ISO 14064-1:2018 category beside each.

The standard lists stationary combustion, mobile combustion, process, fugitive emissions and the
green-space sink; purchased electricity and heat are the imported-energy sources every park
accounts for in addition. ISO 14064-1:2018 clause 5.2.4 groups the same lines into six
categories; the default mapping below is overridable per line (e.g. a hired fleet is category 3).
"""

from __future__ import annotations

from enum import StrEnum


class SourceCategory(StrEnum):
    STATIONARY_COMBUSTION = "stationary_combustion"
    MOBILE_COMBUSTION = "mobile_combustion"
    PROCESS = "process"
    FUGITIVE = "fugitive"
    PURCHASED_ELECTRICITY = "purchased_electricity"
    PURCHASED_HEAT = "purchased_heat"
    GREEN_SPACE_SINK = "green_space_sink"


class IsoCategory(StrEnum):
    """ISO 14064-1:2018 clause 5.2.4 categories."""

    DIRECT = "1 direct emissions and removals"
    IMPORTED_ENERGY = "2 indirect emissions from imported energy"
    TRANSPORTATION = "3 indirect emissions from transportation"
    PRODUCTS_USED = "4 indirect emissions from products the organization uses"
    USE_OF_PRODUCTS = "5 indirect emissions from the use of the organization's products"
    OTHER = "6 indirect emissions from other sources"


class AccountingMethod(StrEnum):
    """Electricity (and heat) accounting basis; other lines count the same in both."""

    LOCATION = "location_based"  # grid average factor for all consumption
    MARKET = "market_based"  # contractual instruments, residual mix for the rest


DEFAULT_ISO_CATEGORY: dict[SourceCategory, IsoCategory] = {
    SourceCategory.STATIONARY_COMBUSTION: IsoCategory.DIRECT,
    # A vehicle the organisation owns or controls; a hired carrier's vehicle is category 3.
    SourceCategory.MOBILE_COMBUSTION: IsoCategory.DIRECT,
    SourceCategory.PROCESS: IsoCategory.DIRECT,
    SourceCategory.FUGITIVE: IsoCategory.DIRECT,
    SourceCategory.PURCHASED_ELECTRICITY: IsoCategory.IMPORTED_ENERGY,
    SourceCategory.PURCHASED_HEAT: IsoCategory.IMPORTED_ENERGY,
    # Removals are quantified in category 1 but reported apart from emissions (ISO 14064-1 5.2.2).
    SourceCategory.GREEN_SPACE_SINK: IsoCategory.DIRECT,
}
