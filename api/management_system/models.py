"""API models of the management system's open items (clauses 6.6, 9.3, 6.2.2, 9.5.2)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class OpenItem(BaseModel):
    record_id: str = Field(description="The record's id in its register")
    title: str
    due_on: date | None = Field(description="The date that raises the item's reminder")
    state: str
    enterprise_id: str | None
    source: str = Field(description="The register holding it: obligation, ticket...")


class OpenSection(BaseModel):
    key: str = Field(description="obligations_due, audit_findings, measures, review_outputs")
    title: str
    clause: str
    available: bool = Field(description="false: the platform keeps no such register yet")
    items: list[OpenItem]


class OpenItems(BaseModel):
    sections: list[OpenSection]
