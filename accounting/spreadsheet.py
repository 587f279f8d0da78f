"""Text written into files that people open in a spreadsheet (report exports, backfill reject
files).

A spreadsheet reads a cell that starts with ``= + - @`` (or a tab or a carriage return, which
it skips before one) as a formula, so text from users or from a file being imported could run
as one when the file is opened: OWASP "CSV Injection". Such text gets a leading single quote;
it then shows as text and never runs. Only text is touched: a number stays a number. Text
that already starts with a quote gets one more, so ``restored`` undoes ``formula_safe`` exactly
(a file read back, e.g. a register imported from its own export, holds the text as entered).

Pure (no I/O), so both the gateway's ``ingest`` and the ``api`` use this one rule.
"""

from __future__ import annotations

import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTED = (*FORMULA_START, "'")
# A plain decimal number ("-12.5", "-1e3") is read by a spreadsheet as that number, never as
# a formula: a cell of text that is one stays as it is, so a negative reading stays readable.
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")


def formula_safe(text: str) -> str:
    """``text`` with a leading ``'`` if a spreadsheet would read it as a formula (OWASP
    "CSV Injection"), or if it starts with a quote itself (so the quote added here can always
    be told apart); any other text unchanged."""
    return "'" + text if text.startswith(_QUOTED) else text


def restored(text: str) -> str:
    """The text ``formula_safe`` was given: its leading ``'`` removed, if it added one."""
    return text[1:] if text.startswith("'") else text


def formula_safe_cell(text: str) -> str:
    """A cell of a CSV whose cells are all text (a file being imported): a plain decimal
    number as it is, any other text as ``formula_safe`` makes it."""
    return text if _PLAIN_NUMBER.match(text) else formula_safe(text)
