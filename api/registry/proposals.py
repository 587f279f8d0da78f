"""``/v1/baselines/{id}/proposals``: baseline restatements the platform proposes (clause 6.5 c).

When emission factors or the accounting method change, a base-year baseline is recomputed from
its base period's stored activity: the hour windows of the subject in the base year (the park's
local year) keep each meter's activity in its canonical unit; ``accounting.restatement`` applies
the factor the worker would use now (packaged catalogue plus the park's versions, the park's
region, the GWP set) with the worker's own arithmetic. The result is a proposal with both
figures and the factor versions before and after; accepting it records the restatement exactly
as ``POST /v1/baselines/{id}/restatements`` does (reason ``factors_or_method``), rejecting it
keeps it with the reason. Every step is audited (7.3).

Proposals are made on demand (``POST``) and automatically in the request that adds a park
factor version (``propose_for_factor_version``, called by ``/v1/factor-overrides`` in its
transaction): each current base-year baseline whose base year the version's validity overlaps
gets one when its restated figure uses the new version. A newer proposal supersedes an open one.
Regression baselines and meter groups are not recomputed here (their drivers and members are
not stored): restate those with ``/restatements``.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from accounting.baseline import (
    BaselineError,
    Recalculation,
    StoredActivity,
    base_year_value,
    restatement_due,
)
from accounting.gwp import GwpSet
from accounting.overrides import factor_sets
from accounting.regions import RegionLevel
from accounting.restatement import restate_activity
from api import audit
from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.registry import rows
from api.registry.common import not_found
from api.registry.enums import EXPLAINED, BaselineMethod, RestatementReason, SubjectKind
from api.registry.target_models import (
    Proposal,
    ProposalAccept,
    ProposalCreate,
    ProposalReject,
    ProposalStatus,
    ProposalTrigger,
)
from api.registry.targets import record_restatement, visible
from store.factors import OVERRIDES_QUERY, override_of
from store.registry import Meter

router = APIRouter(tags=["targets and baselines"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTRY_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTRY_WRITE))]

_REASON = RestatementReason.FACTORS_OR_METHOD
_METERS = sql.SQL("SELECT {} FROM meter WHERE meter_id = ANY(%s)").format(
    sql.SQL(", ").join(sql.Identifier(f.name) for f in dataclasses.fields(Meter))
)

# The park a subject belongs to: its local calendar and its emission-factor region.
_PARK_OF = """
SELECT p.timezone, p.region, p.grid_level FROM park p
LEFT JOIN enterprise e ON e.park_id = p.park_id
LEFT JOIN meter m ON m.enterprise_id = e.enterprise_id
WHERE CASE %(kind)s WHEN 'park' THEN p.park_id = %(id)s
                    WHEN 'enterprise' THEN e.enterprise_id = %(id)s
                    ELSE m.meter_id = %(id)s END
LIMIT 1
"""
# The subject's hour windows of the base period, per meter and local day of the park (the worker
# resolves a window's factor for the park's local day), with what they store. Output and other
# activity-only meters carry no CO2e.
_ACTIVITY = """
SELECT w.meter_id, (w.window_start AT TIME ZONE %(tz)s)::date, w.activity_unit, w.gwp_set,
       w.factor_versions, sum(w.activity), sum(w.tco2e), count(*)
FROM emission_window w
JOIN enterprise e ON e.enterprise_id = w.enterprise_id
WHERE w.width_s = 3600 AND w.window_start >= %(lo)s AND w.window_start < %(hi)s
  AND w.source_category <> 'activity_only'
  AND CASE %(kind)s WHEN 'park' THEN e.park_id = %(id)s
                    WHEN 'enterprise' THEN w.enterprise_id = %(id)s
                    ELSE w.meter_id = %(id)s END
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, 4, 5
"""

log = logging.getLogger(__name__)


class NoProposalError(Exception):
    """The baseline cannot be recomputed here (422), or nothing it depends on changed (409)."""

    def __init__(self, detail: str, *, status: int = 422) -> None:
        super().__init__(detail)
        self.status = status


@dataclasses.dataclass(frozen=True)
class Computed:
    period_start: date
    period_end: date
    gwp_set: GwpSet
    recalculation: Recalculation
    versions_before: tuple[str, ...]
    proposed_value: float


async def _compute(
    conn: AsyncConnection[Any], baseline: dict[str, Any], gwp_set: GwpSet | None
) -> Computed:
    """The baseline's base year recomputed with the factors in force now; raises
    ``NoProposalError`` saying why when there is nothing to propose."""
    ident = f"baseline {baseline['baseline_id']}"
    if baseline["method"] != BaselineMethod.BASE_YEAR:
        raise NoProposalError(
            f"{ident} is a regression: its drivers are not stored, restate it with"
            f" POST /v1/baselines/{baseline['baseline_id']}/restatements"
        )
    if baseline["subject_kind"] == SubjectKind.METER_GROUP:
        raise NoProposalError(f"{ident} is of a meter group, whose members are not registered")
    subject = {"kind": baseline["subject_kind"], "id": baseline["subject_id"]}
    park = await (await conn.execute(_PARK_OF, subject)).fetchone()
    if park is None:
        raise NoProposalError(f"{ident}: its subject belongs to no park")
    zone, region, grid_level = ZoneInfo(park[0]), str(park[1]), RegionLevel(park[2])
    year = int(baseline["base_year"])
    first, end = date(year, 1, 1), date(year + 1, 1, 1)
    lo = datetime(year, 1, 1, tzinfo=zone)
    hi = datetime(year + 1, 1, 1, tzinfo=zone)
    found = await (
        await conn.execute(_ACTIVITY, subject | {"lo": lo, "hi": hi, "tz": park[0]})
    ).fetchall()
    if not found:
        raise NoProposalError(f"{ident}: no hour window of {year} is stored for its subject")
    lines = [
        StoredActivity(
            meter_id=str(m),
            day=day,
            activity=float(activity),
            unit=str(unit),
            tco2e=float(tco2e),
            factor_versions=tuple(versions),
            windows=int(n),
        )
        for m, day, unit, _, versions, activity, tco2e, n in found
    ]
    stored_sets = {str(g) for *_, g, _v, _a, _t, _n in found if g is not None}
    if gwp_set is None:
        if len(stored_sets) != 1:
            raise ApiError(
                422,
                f"{ident}: the stored windows use GWP sets {sorted(stored_sets) or 'none'}:"
                " name gwp_set",
            )
        gwp_set = GwpSet(stored_sets.pop())
        stored_sets = {gwp_set.value}
    ids = sorted({line.meter_id for line in lines})
    async with conn.cursor(row_factory=dict_row) as cur:
        # Retired meters too: their activity is part of the base year.
        await cur.execute(_METERS, (ids,))
        meters = {r["meter_id"]: Meter(**r) for r in await cur.fetchall()}
    overrides = [override_of(r) for r in await (await conn.execute(OVERRIDES_QUERY)).fetchall()]
    park_set, enterprise_sets = factor_sets(overrides)
    try:
        recalculation = restate_activity(
            lines,
            meters=meters,
            factors=park_set,
            region=region,
            gwp_set=gwp_set,
            timezone=park[0],
            grid_level=grid_level,
            enterprise_factors=enterprise_sets,
            warn=log.warning,
        )
    except BaselineError as exc:
        raise NoProposalError(f"{ident}: {exc}") from exc
    recorded = tuple(baseline["factor_versions"]) or recalculation.versions_before
    if not restatement_due(
        recorded, recalculation, gwp_before=stored_sets, gwp_after=gwp_set.value
    ):
        raise NoProposalError(
            f"{ident}: nothing changed: its base year uses factor versions"
            f" {', '.join(recorded) or 'none'} and GWP set {gwp_set} as before",
            status=409,
        )
    value = base_year_value(
        recalculation.restated_tco2e, period_kind=baseline["period_kind"], base_year=year
    )
    return Computed(first, end, gwp_set, recalculation, tuple(sorted(recorded)), value)


def _note(computed: Computed, why: str) -> str:
    r = computed.recalculation
    added = sorted(set(r.versions_after) - set(computed.versions_before))
    removed = sorted(set(computed.versions_before) - set(r.versions_after))
    parts = [
        f"{why}: base year {computed.period_start.year} recomputed from {r.windows} stored hour"
        f" windows with the factors in force ({computed.gwp_set}):"
        f" {r.stored_tco2e:.6f} -> {r.restated_tco2e:.6f} tCO2e",
        f"versions added: {', '.join(added) or 'none'}",
        f"removed: {', '.join(removed) or 'none'}",
    ]
    return "; ".join(parts)


async def _insert(
    conn: AsyncConnection[Any],
    baseline: dict[str, Any],
    computed: Computed,
    *,
    trigger: ProposalTrigger,
    trigger_ref: str | None,
    note: str,
    actor: str,
) -> dict[str, Any]:
    """Store a proposal (superseding the baseline's open one), audited; inside a transaction."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE baseline_proposal SET status = 'superseded', decided_at = now(),"
            " decided_by = %s, decision_note = 'superseded by a newer proposal'"
            " WHERE baseline_id = %s AND status = 'proposed' RETURNING proposal_id",
            (actor, baseline["baseline_id"]),
        )
        superseded = [r["proposal_id"] for r in await cur.fetchall()]
    for pid in superseded:
        await audit.record(
            conn,
            actor=actor,
            action="supersede",
            entity="baseline_proposal",
            entity_id=str(pid),
            before={"status": ProposalStatus.PROPOSED},
            after={"status": ProposalStatus.SUPERSEDED},
        )
    r = computed.recalculation
    stored = await rows.insert(
        conn,
        "baseline_proposal",
        {
            "baseline_id": baseline["baseline_id"],
            "trigger": trigger,
            "trigger_ref": trigger_ref,
            "reason": _REASON,
            "period_start": computed.period_start,
            "period_end": computed.period_end,
            "gwp_set": computed.gwp_set.value,
            "hour_windows": r.windows,
            "stored_tco2e": r.stored_tco2e,
            "restated_tco2e": r.restated_tco2e,
            "previous_value_tco2e": baseline["value_tco2e"],
            "proposed_value_tco2e": computed.proposed_value,
            "factor_versions_before": list(computed.versions_before),
            "factor_versions_after": list(r.versions_after),
            "lacking_factor": list(r.lacking_factor),
            "note": note,
            "created_by": actor,
        },
    )
    await audit.record(
        conn,
        actor=actor,
        action="propose",
        entity="baseline_proposal",
        entity_id=str(stored["proposal_id"]),
        before=None,
        after=stored,
        reason=EXPLAINED[_REASON],
    )
    return stored


async def _lock(conn: AsyncConnection[Any], baseline_id: int) -> None:
    # One proposer or decider per baseline at a time (one open proposal, one restatement).
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"baseline-proposal:{baseline_id}",)
    )


async def _head(conn: AsyncConnection[Any], baseline_id: int) -> int | None:
    """The restatement that replaced this baseline; None while it is the current one."""
    row = await (
        await conn.execute(
            "SELECT baseline_id FROM baseline WHERE recalculated_from = %s", (baseline_id,)
        )
    ).fetchone()
    return None if row is None else int(row[0])


async def propose_for_factor_version(
    conn: AsyncConnection[Any], version: dict[str, Any], actor: str
) -> list[int]:
    """Proposals for the current base-year baselines that a new park factor version (a stored
    ``factor_override`` row) changes; call inside the transaction that adds it. A baseline whose
    restated figure does not use the version gets none. Returns the new proposal ids."""
    label = f"{version['factor_key']}@{version['valid_from'].isoformat()}"
    # A day of slack on either side of the local base year.
    candidates = await (
        await conn.execute(
            "SELECT b.baseline_id FROM baseline b WHERE b.method = 'base_year'"
            " AND b.subject_kind <> 'meter_group'"
            " AND NOT EXISTS (SELECT 1 FROM baseline r WHERE r.recalculated_from = b.baseline_id)"
            " AND make_date(b.base_year + 1, 1, 1) >= %s AND make_date(b.base_year, 1, 1) - 1"
            " <= coalesce(%s::date, 'infinity'::date) ORDER BY b.baseline_id",
            (version["valid_from"], version["valid_to"]),
        )
    ).fetchall()
    made = []
    for (baseline_id,) in candidates:
        await _lock(conn, baseline_id)
        baseline = await rows.one(conn, "baseline", "baseline_id", baseline_id)
        if baseline is None or await _head(conn, baseline_id) is not None:
            continue
        try:
            computed = await _compute(conn, baseline, None)
        except (NoProposalError, ApiError):
            continue  # nothing to recompute, or mixed GWP sets: on demand only
        if label not in computed.recalculation.versions_after:
            continue
        stored = await _insert(
            conn,
            baseline,
            computed,
            trigger=ProposalTrigger.FACTOR_VERSION,
            trigger_ref=label,
            note=_note(computed, f"factor version {label} added"),
            actor=actor,
        )
        made.append(int(stored["proposal_id"]))
    return made


def _out(row: dict[str, Any]) -> Proposal:
    before, after = set(row["factor_versions_before"]), set(row["factor_versions_after"])
    return Proposal(
        **row,
        reason_text=EXPLAINED[RestatementReason(row["reason"])],
        versions_removed=sorted(before - after),
        versions_added=sorted(after - before),
    )


async def _visible_baseline(
    conn: AsyncConnection[Any], who: Principal, baseline_id: int
) -> dict[str, Any]:
    baseline = await rows.one(conn, "baseline", "baseline_id", baseline_id)
    if baseline is None or not await visible(conn, who, baseline):
        raise not_found("baseline", baseline_id)
    return baseline


@router.get(
    "/v1/baselines/{baseline_id}/proposals",
    response_model=list[Proposal],
    responses=problems(401, 403, 404, 422),
)
async def list_proposals(baseline_id: int, conn: DbDep, who: Reader) -> list[Proposal]:
    """The baseline's restatement proposals, oldest first (at most one ``proposed``)."""
    await _visible_baseline(conn, who, baseline_id)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT * FROM baseline_proposal WHERE baseline_id = %s ORDER BY proposal_id",
            (baseline_id,),
        )
        return [_out(r) for r in await cur.fetchall()]


@router.get(
    "/v1/baselines/{baseline_id}/proposals/{proposal_id}",
    response_model=Proposal,
    responses=problems(401, 403, 404, 422),
)
async def get_proposal(baseline_id: int, proposal_id: int, conn: DbDep, who: Reader) -> Proposal:
    await _visible_baseline(conn, who, baseline_id)
    row = await rows.one(conn, "baseline_proposal", "proposal_id", proposal_id)
    if row is None or row["baseline_id"] != baseline_id:
        raise not_found("proposal", proposal_id)
    return _out(row)


@router.post(
    "/v1/baselines/{baseline_id}/proposals",
    status_code=201,
    response_model=Proposal,
    responses=problems(401, 403, 404, 409, 422),
)
async def create_proposal(
    baseline_id: int, body: ProposalCreate, conn: DbDep, who: Writer
) -> Proposal:
    """Recompute the baseline's base year now with the factors in force (and ``gwp_set``) and
    propose the result; 409 when the baseline was restated already or nothing changed, 422
    when it cannot be recomputed from stored windows (regression, meter group, no windows)."""
    async with conn.transaction():
        await _lock(conn, baseline_id)
        baseline = await rows.one(conn, "baseline", "baseline_id", baseline_id)
        if baseline is None:
            raise not_found("baseline", baseline_id)
        restated_by = await _head(conn, baseline_id)
        if restated_by is not None:
            raise ApiError(
                409,
                f"baseline {baseline_id} was restated by {restated_by}: propose for that one",
                restated_by=restated_by,
            )
        try:
            computed = await _compute(conn, baseline, body.gwp_set)
        except NoProposalError as exc:
            raise ApiError(exc.status, str(exc)) from exc
        why = "requested" + (f" ({body.note.strip()})" if body.note.strip() else "")
        stored = await _insert(
            conn,
            baseline,
            computed,
            trigger=ProposalTrigger.ON_DEMAND,
            trigger_ref=None,
            note=_note(computed, why),
            actor=who.actor,
        )
    return _out(stored)


async def _open_proposal(
    conn: AsyncConnection[Any], baseline_id: int, proposal_id: int
) -> dict[str, Any]:
    row = await rows.one(conn, "baseline_proposal", "proposal_id", proposal_id, lock=True)
    if row is None or row["baseline_id"] != baseline_id:
        raise not_found("proposal", proposal_id)
    if row["status"] != ProposalStatus.PROPOSED:
        raise ApiError(
            409, f"proposal {proposal_id} is {row['status']}: it was decided", allowed=[]
        )
    return row


async def _decide(
    conn: AsyncConnection[Any],
    proposal: dict[str, Any],
    *,
    status: ProposalStatus,
    note: str,
    restatement_id: int | None,
    actor: str,
) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE baseline_proposal SET status = %s, decided_at = now(), decided_by = %s,"
            " decision_note = %s, restatement_id = %s WHERE proposal_id = %s RETURNING *",
            (status, actor, note, restatement_id, proposal["proposal_id"]),
        )
        decided = await cur.fetchone()
    assert decided is not None
    await audit.record(
        conn,
        actor=actor,
        action="accept" if status is ProposalStatus.ACCEPTED else "reject",
        entity="baseline_proposal",
        entity_id=str(proposal["proposal_id"]),
        before={"status": proposal["status"]},
        after=decided,
        reason=note,
    )
    return decided


@router.post(
    "/v1/baselines/{baseline_id}/proposals/{proposal_id}/accept",
    response_model=Proposal,
    responses=problems(401, 403, 404, 409, 422),
)
async def accept_proposal(
    baseline_id: int, proposal_id: int, body: ProposalAccept, conn: DbDep, who: Writer
) -> Proposal:
    """Record the proposed figure as the baseline's restatement (clause 6.5 c), as
    ``/restatements`` does; 409 if the proposal was decided or the baseline restated since."""
    async with conn.transaction():
        await _lock(conn, baseline_id)
        proposal = await _open_proposal(conn, baseline_id, proposal_id)
        baseline = await rows.one(conn, "baseline", "baseline_id", baseline_id)
        assert baseline is not None  # the proposal's foreign key
        restated_by = await _head(conn, baseline_id)
        if restated_by is not None:
            raise ApiError(
                409,
                f"baseline {baseline_id} was restated by {restated_by} since: propose again",
                restated_by=restated_by,
            )
        figures = {
            "method": baseline["method"],
            "base_year": baseline["base_year"],
            "regression": None,
            "period_kind": baseline["period_kind"],
            "value_tco2e": proposal["proposed_value_tco2e"],
            "factor_versions": proposal["factor_versions_after"],
            "effective": body.effective or datetime.now(UTC).date(),
        }
        note = f"proposal {proposal_id}: {proposal['note']}"
        if body.note.strip():
            note += f"; {body.note.strip()}"
        restatement = await record_restatement(
            conn, baseline, figures, reason=_REASON, note=note, actor=who.actor
        )
        decided = await _decide(
            conn,
            proposal,
            status=ProposalStatus.ACCEPTED,
            note=body.note.strip() or EXPLAINED[_REASON],
            restatement_id=restatement["baseline_id"],
            actor=who.actor,
        )
    return _out(decided)


@router.post(
    "/v1/baselines/{baseline_id}/proposals/{proposal_id}/reject",
    response_model=Proposal,
    responses=problems(401, 403, 404, 409, 422),
)
async def reject_proposal(
    baseline_id: int, proposal_id: int, body: ProposalReject, conn: DbDep, who: Writer
) -> Proposal:
    """Keep the baseline as it is; the proposal stays, rejected with the reason."""
    if not body.note.strip():
        raise ApiError(422, "a rejection needs a note saying why")
    async with conn.transaction():
        await _lock(conn, baseline_id)
        proposal = await _open_proposal(conn, baseline_id, proposal_id)
        decided = await _decide(
            conn,
            proposal,
            status=ProposalStatus.REJECTED,
            note=body.note.strip(),
            restatement_id=None,
            actor=who.actor,
        )
    return _out(decided)
