"""Inline SVG charts for the printable report: drawn here, in Python, so the HTML needs no
script, no font and no network. Every label is escaped; sizes are in SVG user units.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

_W = 640
_BAR = "#2f6f8f"
_ALT = "#9cc3d5"
_PREV = "#c9c9c9"
_OVER = "#b03a2e"


def _fmt(value: float) -> str:
    return f"{value:,.3f}" if abs(value) < 1e6 else f"{value:,.0f}"


def _svg(height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {height}" width="{_W}" '
        f'height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def hbars(title: str, items: Sequence[tuple[str, float]], unit: str) -> str:
    """Horizontal bars, one per labelled value (negative values drawn as zero-length)."""
    if not items:
        return ""
    top = max((v for _, v in items), default=0.0) or 1.0
    label_w, row_h = 220, 22
    body = []
    for i, (label, value) in enumerate(items):
        y = 6 + i * row_h
        width = max(0.0, value) / top * (_W - label_w - 110)
        body.append(
            f'<text x="{label_w - 6}" y="{y + 14}" font-size="12" text-anchor="end">'
            f"{escape(label[:34])}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row_h - 6}" '
            f'fill="{_BAR}"/>'
            f'<text x="{label_w + width + 4:.1f}" y="{y + 14}" font-size="11">'
            f"{escape(_fmt(value))} {escape(unit)}</text>"
        )
    return _svg(12 + len(items) * row_h, body, title)


def months(
    title: str, rows: Sequence[tuple[str, float, float | None, float | None]], unit: str
) -> str:
    """Per month: location-based, market-based and the same month a year earlier, side by side."""
    if not rows:
        return ""
    values = [v for _, a, b, c in rows for v in (a, b, c) if v is not None]
    top = max(values, default=0.0) or 1.0
    left, bottom, height = 70, 40, 240
    plot_h = height - bottom - 24
    slot = (_W - left - 10) / len(rows)
    bar = slot / 4
    body = [
        f'<text x="4" y="14" font-size="11">{escape(unit)} (max {escape(_fmt(top))})</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{_W - 10}" y2="{height - bottom}" '
        'stroke="#333"/>',
    ]
    for i, (label, location, market, previous) in enumerate(rows):
        x = left + i * slot + bar / 2
        for j, (value, colour) in enumerate(((previous, _PREV), (location, _BAR), (market, _ALT))):
            if value is None:
                continue
            h = max(0.0, value) / top * plot_h
            body.append(
                f'<rect x="{x + j * bar:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(label)}: '
                f"{escape(_fmt(value))}</title></rect>"
            )
        body.append(
            f'<text x="{x + 1.5 * bar:.1f}" y="{height - bottom + 14}" font-size="10" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    legend = (("year before", _PREV), ("location-based", _BAR), ("market-based", _ALT))
    for k, (name, colour) in enumerate(legend):
        x = left + k * 150
        body.append(
            f'<rect x="{x}" y="{height - 16}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{height - 7}" font-size="11">{name}</text>'
        )
    return _svg(height, body, title)


def attainment(title: str, items: Sequence[tuple[str, float | None]]) -> str:
    """Share of each target used (actual / limit); the line marks 100 %, red bars exceed it."""
    shown = [(label, share) for label, share in items if share is not None]
    if not shown:
        return ""
    label_w, row_h = 260, 22
    scale = (_W - label_w - 70) / max(1.2, *(min(s, 3.0) for _, s in shown))
    full = label_w + scale
    body = []
    for i, (label, share) in enumerate(shown):
        y = 6 + i * row_h
        width = max(0.0, min(share, 3.0)) * scale
        colour = _OVER if share > 1 else _BAR
        body.append(
            f'<text x="{label_w - 6}" y="{y + 14}" font-size="12" text-anchor="end">'
            f"{escape(label[:40])}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row_h - 6}" '
            f'fill="{colour}"/>'
            f'<text x="{label_w + width + 4:.1f}" y="{y + 14}" font-size="11">'
            f"{share * 100:.1f} %</text>"
        )
    bottom = 12 + len(shown) * row_h
    body.append(
        f'<line x1="{full:.1f}" y1="0" x2="{full:.1f}" y2="{bottom}" stroke="#333" '
        'stroke-dasharray="4 3"/>'
    )
    return _svg(bottom, body, title)
