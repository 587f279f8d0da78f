"""Versions of one catalogue key over time: which periods they cover, and which overlap.

The rule is ``accounting.factors.add_version``'s (clause 6.5, 6.7), applied in the order the
park added its versions: packaged versions are the base; each park version ends an open-ended
version that started earlier the day before it starts, and any other overlap with a period
already in force is refused, so a version is never wedged into the middle of another one.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class Version:
    label: str  # key@valid_from, as emission windows name the factor versions they used
    valid_from: date
    valid_to: date | None  # as declared
    effective_to: date | None = None  # after later versions closed an open end
    packaged: bool = True

    @property
    def end(self) -> date:
        return self.effective_to or date.max


class VersionOverlapError(ValueError):
    def __init__(self, new: Version, old: Version) -> None:
        self.new, self.old = new, old
        until = old.effective_to.isoformat() if old.effective_to else "open"
        super().__init__(
            f"{new.label} (to {new.valid_to or 'open'}) overlaps {old.label} (to {until})"
        )


def chain(packaged: Iterable[Version], overrides: Iterable[Version]) -> list[Version]:
    """Every version with its effective end, in ``valid_from`` order. ``overrides`` come in
    the order they were added; raises ``VersionOverlapError`` for the first that overlaps."""
    kept = [replace(v, effective_to=v.valid_to) for v in packaged]
    for new in overrides:
        new = replace(new, effective_to=new.valid_to, packaged=False)
        kept = [
            replace(old, effective_to=new.valid_from - timedelta(days=1))
            if old.effective_to is None and old.valid_from < new.valid_from
            else old
            for old in kept
        ]
        for old in kept:
            if old.valid_from <= new.end and new.valid_from <= old.end:
                raise VersionOverlapError(new, old)
        kept.append(new)
    return sorted(kept, key=lambda v: v.valid_from)
