"""Which alerts share a cause: incidents (clauses 9.1 b, 10.1).

A gateway that stops (power, network, its serial line) leaves every meter behind it short of
readings in the same windows: one COMPLETENESS_LOW alert per meter, one cause. Those alerts
belong to one incident, worked as one corrective-action ticket whose subject is the gateway
and whose occurrences are the member alerts with their figures; the duty staff get one message
per incident, not one per meter. An alert whose meter has no known gateway, or of a rule whose
cause is the meter's own (an emission above target, a calibration overdue), stays on its own.

The gateway of a meter is the one its newest stored reading came through: the source the
readings actually take, whatever the grants say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from accounting.deviation import Rule

# Rules whose cause is on the way the readings take, not in the meter's own figures: a data
# collection fault (9.1 c) shows on every meter behind the faulty link at once.
COLLECTION_RULES: Final = frozenset({Rule.COMPLETENESS_LOW})


@dataclass(frozen=True, slots=True)
class CommonCause:
    """The subject of an incident's ticket: the gateway the members' readings come through."""

    subject_kind: str  # 'gateway'
    subject_id: str  # the gateway id
    park_id: str


def may_share_cause(rule: Rule, subject_kind: str) -> bool:
    """Whether an alert of ``rule`` about a ``subject_kind`` can be part of an incident."""
    return rule in COLLECTION_RULES and subject_kind == "meter"


def common_cause(
    rule: Rule, subject_kind: str, gateway_id: str | None, park_id: str | None
) -> CommonCause | None:
    """The incident an alert of ``rule`` about a ``subject_kind`` belongs to, or None when it
    stands alone (a rule of the meter's own figures, a subject that is not a meter, a meter
    with no stored reading or outside the registry's parks)."""
    if not may_share_cause(rule, subject_kind) or not gateway_id or not park_id:
        return None
    return CommonCause("gateway", gateway_id, park_id)


@dataclass(frozen=True, slots=True)
class Member:
    """One alert as the grouping sees it: its rule, window, meter and the meter's gateway."""

    alert_id: str
    rule: Rule
    window_start_ms: int
    subject_kind: str
    subject_id: str
    gateway_id: str | None
    park_id: str | None


IncidentKey = tuple[Rule, CommonCause] | str


def group(members: Iterable[Member]) -> Mapping[IncidentKey, list[Member]]:
    """The incidents of a set of alerts, keyed by rule and common cause; an alert that stands
    alone is keyed by its own id. Members keep their input order. (The ticket of an incident
    stays the one open for its rule and gateway, so a later window of the same fault joins it.)"""
    out: dict[IncidentKey, list[Member]] = {}
    for m in members:
        cause = common_cause(m.rule, m.subject_kind, m.gateway_id, m.park_id)
        out.setdefault((m.rule, cause) if cause is not None else m.alert_id, []).append(m)
    return out
