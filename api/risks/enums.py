"""Kinds and categories of risks and opportunities, and screening decisions (6.1, 6.3.5)."""

from __future__ import annotations

from enum import StrEnum


class RiskKind(StrEnum):
    RISK = "risk"
    OPPORTUNITY = "opportunity"


class RiskCategory(StrEnum):
    """The five the park identifies (6.1.2 a-e)."""

    STRATEGIC = "strategic"  # a) policy-driven: national and local peak and neutrality policy
    OPERATIONAL = "operational"  # b) two-high admission, supply chain, data integrity
    FINANCIAL = "financial"  # c) financing, raw material and abatement costs
    EMERGENT = "emergent"  # d) natural disaster, pollution, safety, public health
    OPPORTUNITY = "opportunity"  # e) low-carbon infrastructure, investment, industry layout


class RiskStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Decision(StrEnum):
    """The admission decision on a two-high project (6.3.5: strict admission control)."""

    ADMIT = "admit"
    ADMIT_WITH_CONDITIONS = "admit_with_conditions"
    REFUSE = "refuse"
