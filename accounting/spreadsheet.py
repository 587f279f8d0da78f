"""Text written into files that people open in a spreadsheet (report exports, backfill reject
files).

A spreadsheet reads a cell that starts with ``= + - @`` (or a tab or a carriage return, which
it skips before one) as a formula, so text from users or from a file being imported could run
as one when the file is opened: OWASP "CSV Injection". Such text gets a leading single quote;
it then shows as text and never runs. Only text is touched: a number stays a number.

Pure (no I/O), so both the gateway's ``ingest`` and the ``api`` use this one rule.
"""

from __future__ import annotations

import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number ("-12.5", "-1e3") is read by a spreadsheet as that number, never as
# a formula: a cell of text that is one stays as it is, so a negative reading stays readable.
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")


def formula_safe(text: str) -> str:
    """``text`` with a leading ``'`` if a spreadsheet would read it as a formula (OWASP
    "CSV Injection"); any other text unchanged."""
    return "'" + text if text.startswith(FORMULA_START) else text


def formula_safe_cell(text: str) -> str:
    """A cell of a CSV whose cells are all text (a file being imported): a plain decimal
    number as it is, any other text as ``formula_safe`` makes it."""
    return text if _PLAIN_NUMBER.match(text) else formula_safe(text)
