"""What every registry route shares: pages, database errors as problems, tenancy checks."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Generic, NoReturn, Self, TypeVar

from fastapi import Query
from psycopg import DataError
from psycopg import Error as PgError
from psycopg import errors as pg_errors
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.errors import ApiError
from api.keys import Principal
from contracts import patterns
from contracts.patterns import NAME_PATTERN

T = TypeVar("T")

# Ids as the registry tables' CHECK constraints allow them (migration 0001).
ID_PATTERN = NAME_PATTERN  # enterprises and sites: no "/"
METER_ID_PATTERN = patterns.ID_PATTERN
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of a list in a stable order; ``total`` counts every matching row."""

    items: list[T]
    total: int
    limit: int
    offset: int


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")]
Offset = Annotated[
    int, Query(ge=0, le=2**31, description="Rows to skip, in the list's stable order")
]


class Change(BaseModel):
    """A reason for a change, recorded in the audit log (clause 7.3)."""

    reason: str = Field(default="", max_length=1000)


def not_found(kind: str, ident: object) -> ApiError:
    return ApiError(404, f"no {kind} {ident!r}")


def visible_or_404(who: Principal, enterprise_id: str | None, kind: str, ident: object) -> None:
    """Another tenant's object is 404, not 403: its existence is not disclosed."""
    if not who.sees(enterprise_id):
        raise not_found(kind, ident)


def tenant_filter(who: Principal, requested: str | None) -> tuple[str | None, bool]:
    """The enterprise a list is filtered to, and whether the caller may see nothing of it
    (an enterprise key asking for another tenant's objects gets an empty list)."""
    if who.enterprise_id is None:
        return requested, False
    return who.enterprise_id, requested not in (None, who.enterprise_id)


class PatchBody(BaseModel):
    """A PATCH body: only the fields sent change; ``NOT_NULL`` fields cannot be cleared."""

    model_config = ConfigDict(extra="forbid")
    NOT_NULL: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Self:
        nulled = [
            f for f in self.NOT_NULL if f in self.model_fields_set and getattr(self, f) is None
        ]
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.model_fields_set}


_FK_DETAIL = re.compile(r"Key \((\w+?)(?:_id)?\)=\((.*)\) is not present")


def raise_db_error(exc: PgError, what: str) -> NoReturn:
    """Turn a constraint violation into a problem the caller can act on (409 or 422)."""
    diag = exc.diag
    if isinstance(exc, pg_errors.UniqueViolation):
        raise ApiError(409, f"{what} already exists", constraint=diag.constraint_name) from exc
    if isinstance(exc, pg_errors.ForeignKeyViolation):
        found = _FK_DETAIL.match(diag.message_detail or "")
        detail = f"unknown {found.group(1)} {found.group(2)!r}" if found else diag.message_primary
        raise ApiError(422, f"{what}: {detail}") from exc
    if isinstance(exc, DataError):
        # e.g. a NUL character in a text, or a value out of a column type's range
        raise ApiError(422, f"{what}: {diag.message_primary or exc}") from exc
    if isinstance(exc, pg_errors.NotNullViolation):
        raise ApiError(422, f"{what}: {diag.column_name} is required") from exc
    if isinstance(exc, pg_errors.CheckViolation):
        # A trigger's check (e.g. the meter hierarchy, 0022) says why in its message; a table
        # constraint's message only repeats the relation, so its name is the answer.
        message = diag.message_primary or ""
        if not message or message.startswith("new row"):
            message = f"refused by rule {diag.constraint_name}"
        raise ApiError(422, f"{what}: {message}", constraint=diag.constraint_name) from exc
    raise exc
