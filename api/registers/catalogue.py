"""Every register, for what runs over all of them (the reminder check, the documented
information export, the management review's inputs, the open-items page). A new register adds
its ``SPEC`` here."""

from __future__ import annotations

from api.context_issues.spec import SPEC as CONTEXT_ISSUES
from api.documents.spec import SPEC as DOCUMENTS
from api.interested_parties.spec import SPEC as INTERESTED_PARTIES
from api.internal_audits.spec import AUDITS, FINDINGS
from api.management_reviews.spec import REVIEW_OUTPUTS
from api.measures.spec import CALIBRATIONS, MEASURES, OBJECTIVES
from api.obligations.spec import EVALUATIONS, OBLIGATIONS
from api.registers.spec import RegisterSpec
from api.risks.spec import ACTIONS as RISK_ACTIONS
from api.risks.spec import RISKS, SCREENINGS
from api.training.spec import SHEETS as TRAINING

REGISTERS: tuple[RegisterSpec, ...] = (
    CONTEXT_ISSUES,
    INTERESTED_PARTIES,
    OBJECTIVES,
    MEASURES,
    CALIBRATIONS,
    DOCUMENTS,
    RISKS,
    RISK_ACTIONS,
    SCREENINGS,
    *(spec for spec, _ in TRAINING.values()),
    OBLIGATIONS,
    EVALUATIONS,
    AUDITS,
    FINDINGS,
)
# Everything whose dates the reminder check watches: the registers, and the outputs of closed
# management reviews (written by closing a review, so not a register of their own).
DATED: tuple[RegisterSpec, ...] = (*REGISTERS, REVIEW_OUTPUTS)


def find(name: str) -> RegisterSpec | None:
    """The register called ``name`` (its ``RegisterSpec.name``), or None while this platform
    does not keep it: callers say "none recorded" rather than fail."""
    return next((spec for spec in REGISTERS if spec.name == name), None)
