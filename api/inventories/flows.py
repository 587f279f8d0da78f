"""The life of a stored inventory (clause 7.3: records kept unchanged).

An inventory is never edited: its content, hash and figures are fixed when it is stored. The
only change in its life is being superseded, and that is no change to its row: a recomputation
for the same park, boundary and period is a new version (``next_version``) that names the one it
supersedes, and the old version stays readable as it was.
"""

from __future__ import annotations

from api.inventories.enums import VersionState


def next_version(latest: int | None) -> tuple[int, bool]:
    """The version a new computation gets, and whether it supersedes an earlier one."""
    return (1, False) if latest is None else (latest + 1, True)


def state(superseded: bool) -> VersionState:
    return VersionState.SUPERSEDED if superseded else VersionState.CURRENT
