"""``POST /v1/readings``: the EMS push (issue 6 item 3; clause 8.4: nothing half-stored).

Status codes: 202 when the batch was handled and at least one reading is accepted or a
duplicate (the body lists every reading's outcome); 422 when every reading was rejected (the
same results in a problem document) or the body is malformed (nothing accepted); 413 above
``api_max_readings`` readings or ``api_max_body_bytes`` bytes; 415 for another content type;
503 with Retry-After when Kafka did not acknowledge (nothing accepted).

``Idempotency-Key`` (optional, per API key, kept 24 hours): the same key with the same body
returns the stored reply (``Idempotent-Replayed: true``) and sends nothing; the same key with
another body is 422. Replies are stored for 202 and 422-all-rejected answers only, so a push
that failed for Kafka or a bad body can be retried under the same key.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response

from accounting.instants import TimeBounds
from api.deps import DbDep, StateDep, require
from api.errors import PROBLEM_JSON, ApiError, problems
from api.keys import Principal, Scope
from api.readings import flows, service
from api.readings.enums import PushMode
from api.readings.models import PushResult, request_body_schema
from api.readings.parse import media_type, parse_body
from config.settings import ApiSettings
from contracts.topics import Topic, topic_name

router = APIRouter(prefix="/v1/readings", tags=["readings"])
Pusher = Annotated[Principal, Depends(require(Scope.READINGS_WRITE))]
_IDEMPOTENCY_KEY = Header(
    alias="Idempotency-Key",
    min_length=1,
    max_length=255,
    description="Optional: repeat a push safely; the same key with another body is 422",
)


def _reply(status: int, body: dict[str, Any], *, replayed: bool = False) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    media = "application/json" if status < 400 else PROBLEM_JSON
    return Response(orjson.dumps(body), status_code=status, media_type=media, headers=headers)


def _as_reply(result: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if result["accepted"] or result["duplicate"]:
        return 202, result
    problem = {
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": f"all {result['rejected']} reading(s) were rejected; nothing was accepted",
    }
    return 422, problem | result


async def _handle(
    *,
    state: StateDep,
    conn: DbDep,
    who: Principal,
    kind: str,
    body: bytes,
    mode: PushMode = PushMode.LIVE,
) -> tuple[int, dict[str, Any]]:
    settings: ApiSettings = state.settings
    now_ms = time.time_ns() // 1_000_000
    parsed = parse_body(
        body,
        kind=kind,
        max_readings=settings.api_max_readings,
        bounds=TimeBounds.around(now_ms, settings.timestamp_bound_years),
    )
    result = await flows.push(
        conn=conn,
        producer=state.producer,
        topic=topic_name(Topic.READINGS_RAW, settings.topic_prefix),
        who=who,
        parsed=parsed,
        now_ms=now_ms,
        history=mode is PushMode.HISTORY,
    )
    for outcome in ("accepted", "duplicate", "rejected"):
        if result[outcome]:
            state.metrics.readings.labels(outcome).inc(result[outcome])
    return _as_reply(result)


@router.post(
    "",
    status_code=202,
    response_model=PushResult,
    responses=problems(401, 403, 413, 415, 422, 503),
    openapi_extra=request_body_schema(ApiSettings.model_fields["api_max_readings"].default),
)
async def push_readings(
    request: Request,
    state: StateDep,
    conn: DbDep,
    who: Pusher,
    idempotency_key: Annotated[str | None, _IDEMPOTENCY_KEY] = None,
    mode: Annotated[
        PushMode,
        Query(
            description="`live` (default): readings of the last 31 days. `history`: an import"
            " of history (a base year, last year), accepted from the meter's `installed_at`"
            " (else BEFORE_INSTALLATION) and the park's inventory start (else"
            " BEFORE_INVENTORY_START), validated by the same rules and fitted into gaps"
            " before the meter's newest reading (the stored readings either side of it must"
            " still follow; a reading already stored at that time is a duplicate)"
        ),
    ] = PushMode.LIVE,
) -> Response:
    """Push a batch of EMS readings (JSON ``{"readings": [...]}`` or CSV with the header
    ``meter_id,ts,value,unit``). New readings go to ``readings.raw`` (acks=all) before the
    answer; each reading's outcome is accepted, duplicate (same meter, time and value as one
    accepted before: not sent again) or rejected with a reason (unknown meter, unit mismatch,
    retired meter, time out of range, future or too old, conflicting value). An enterprise key
    pushes only its own enterprise's meters; any other meter is UNKNOWN_METER."""
    kind = media_type(request.headers.get("content-type"))
    body = await request.body()
    if idempotency_key is None:
        return _reply(
            *await _handle(state=state, conn=conn, who=who, kind=kind, body=body, mode=mode)
        )
    # The mode is part of what was asked: the same body as history is another request.
    digest = service.body_digest(kind if mode is PushMode.LIVE else f"{kind};{mode}", body)
    async with conn.transaction():
        await service.lock_idempotency_key(conn, key_id=who.key_id, key=idempotency_key)
        stored = await service.stored_reply(conn, key_id=who.key_id, key=idempotency_key)
        if stored is not None:
            if stored.body_sha256 != digest:
                raise ApiError(
                    422,
                    "this Idempotency-Key was used with another body in the last 24 hours",
                    idempotency_key=idempotency_key,
                )
            return _reply(stored.status, stored.response, replayed=True)
        status, reply = await _handle(
            state=state, conn=conn, who=who, kind=kind, body=body, mode=mode
        )
        await service.store_reply(
            conn,
            key_id=who.key_id,
            key=idempotency_key,
            reply=service.Reply(digest, status, reply),
        )
    return _reply(status, reply)
