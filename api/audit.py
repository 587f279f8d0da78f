"""The audit log from the API (clause 7.3): appended by ``store.audit``, its one writer."""

from __future__ import annotations

from store.audit import record_async as record

__all__ = ["record"]
