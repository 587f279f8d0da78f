"""What the page needs to know before it asks the query API: the parks a key sees, their
enterprises, and each park's local day (days are the park's local days, clause 9.1 a)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class EnterpriseRef(BaseModel):
    enterprise_id: str
    name: str


class PagePark(BaseModel):
    park_id: str
    name: str
    timezone: str
    language: str = Field(
        description="The park's default language (en or zh-CN): the page's language when"
        " neither the reader nor the browser chose one"
    )
    today_start: datetime = Field(description="Local midnight of the park's today, as an instant")
    today_end: datetime = Field(description="Local midnight of the park's tomorrow (exclusive)")
    enterprises: list[EnterpriseRef] = Field(description="Those the key sees, by id")


class PageContext(BaseModel):
    enterprise_id: str | None = Field(
        description="The enterprise an enterprise key is confined to; null for park-wide keys"
    )
    parks: list[PagePark]
