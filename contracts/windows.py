"""The ``emissions.windows`` contract, wire version 2.

One message carries the window results
of one enterprise from one flush, keyed by the enterprise id (its subject; a meter belongs to
one enterprise, so each meter's results stay in order in one partition)::

    {"v": 2, "enterprise_id": "ent-01",
     "windows": [{"meter_id": "E-001", "enterprise_id": "ent-01",
                  "source_category": "purchased_electricity", "iso_category": "2",
                  "width_s": 60, "window_start": "2026-11-25T08:00:00.000Z",
                  "window_end": "2026-11-25T08:01:00.000Z", "activity": 12.5,
                  "activity_unit": "kWh", "gases_t": {"CO2": 0.0071}, "tco2e": 0.0071,
                  "gwp_set": "AR5", "factor_versions": ["..."], "completeness": 1.0,
                  "flags": 0, "interpolated": false}, ...]}

At most ``MAX_WINDOWS_PER_MESSAGE`` windows per message (an enterprise with more in one flush
gets several messages). A recomputed window is sent again with its new figures; a consumer
keeps the latest per (meter_id, width_s, window_start). Version 1 (one message per window,
keyed by meter id) sent 186,000 messages for a 600,000-reading backlog: a tenth of the
worker's time went to per-message encoding and Kafka sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Final

import numpy as np
import orjson
from numpy.typing import NDArray

from accounting.windows import ResultTerms, WindowResults
from contracts.records import ms_to_iso

MAX_WINDOWS_PER_MESSAGE: Final = 500
WINDOWS_WIRE_VERSION: Final = 2
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def decode_windows(raw: bytes) -> list[dict[str, Any]]:
    """The window results of one ``emissions.windows`` message."""
    obj = orjson.loads(raw)
    if (
        not isinstance(obj, dict)
        or obj.get("v") != WINDOWS_WIRE_VERSION
        or not isinstance(obj.get("windows"), list)
    ):
        raise ValueError(f"not an emissions.windows v{WINDOWS_WIRE_VERSION} message")
    return list(obj["windows"])


def json_texts(values: NDArray[Any]) -> list[str]:
    """Each value of a numeric or boolean column as orjson writes it (one C call for the column,
    then split: no float is formatted in Python)."""
    if values.shape[0] == 0:
        return []
    return orjson.dumps(np.ascontiguousarray(values), option=_NUMPY)[1:-1].decode().split(",")


def gases_json(results: WindowResults) -> list[str]:
    """Each window's ``{"gas": tonnes, ...}`` object as JSON text (the ``gases_t`` item field and
    the ``gases`` column), built per group of windows with the same gases."""
    n = len(results)
    columns = [json_texts(results.gas_t[:, k]) for k in range(len(results.gas_names))]
    kinds: dict[tuple[str, ...], int] = {}
    kind_of_terms = np.array(
        [kinds.setdefault(t.gases, len(kinds)) for t in results.shared], dtype=np.intp
    )
    kind = kind_of_terms[results.terms]
    out = np.empty(n, dtype=object)
    for gases, k in kinds.items():
        rows = np.flatnonzero(kind == k)
        fmt = "{" + ",".join(orjson.dumps(g).decode() + ":%s" for g in gases) + "}"
        if not gases:
            out[rows] = fmt
            continue
        at = rows.tolist()
        picked = [
            list(map(columns[results.gas_names.index(g)].__getitem__, at))
            if len(rows) < n
            else columns[results.gas_names.index(g)]
            for g in gases
        ]
        out[rows] = list(map(fmt.__mod__, zip(*picked, strict=True)))
    texts: list[str] = out.tolist()
    return texts


def iso_texts(ms: NDArray[np.int64]) -> list[str]:
    """Each instant as the contract's ISO text; a flush's windows share a few hundred bounds."""
    values = ms.tolist()
    iso = {m: ms_to_iso(m) for m in set(values)}
    return list(map(iso.__getitem__, values))


@dataclass(frozen=True, slots=True)
class WindowTexts:
    """Each window's figures as text, as the topic's JSON and the table's COPY both take them
    (JSON numbers and booleans, ISO instants): made once per flush for both."""

    width_s: list[str]
    window_start: list[str]
    window_end: list[str]
    activity: list[str]
    gases: list[str]
    tco2e: list[str]
    readings_present: list[str]
    readings_expected: list[str]
    completeness: list[str]
    flags: list[str]
    interpolated: list[str]  # "true"/"false": JSON's, and a boolean COPY reads


def window_texts(results: WindowResults) -> WindowTexts:
    return WindowTexts(
        width_s=json_texts(results.width_s),
        window_start=iso_texts(results.start_ms),
        window_end=iso_texts(results.start_ms + results.width_s * 1000),
        activity=json_texts(results.activity),
        gases=gases_json(results),
        tco2e=json_texts(results.tco2e),
        readings_present=json_texts(results.readings_present),
        readings_expected=json_texts(results.readings_expected),
        completeness=json_texts(results.completeness),
        flags=json_texts(results.flags),
        interpolated=json_texts(results.interpolated),
    )


def _item_prefix(t: ResultTerms) -> str:
    """The part of an item its (meter, day) group shares, up to the comma after it."""
    fields = {
        "meter_id": t.meter_id,
        "enterprise_id": t.enterprise_id,
        "source_category": t.source_category,
        "iso_category": t.iso_category,
        "activity_unit": t.activity_unit,
        "gwp_set": t.gwp_set,
        "factor_versions": list(t.factor_versions),
    }
    return orjson.dumps(fields).decode()[:-1] + ","


def window_items(results: WindowResults, texts: WindowTexts | None = None) -> list[str]:
    """Each window's item (the fields above) as JSON text, built a column at a time."""
    if not len(results):
        return []
    x = texts or window_texts(results)
    prefixes = [_item_prefix(t) for t in results.shared]
    parts = (
        (map(prefixes.__getitem__, results.terms.tolist()), '"width_s":'),
        (x.width_s, ',"window_start":"'),
        (x.window_start, '","window_end":"'),
        (x.window_end, '","activity":'),
        (x.activity, ',"gases_t":'),
        (x.gases, ',"tco2e":'),
        (x.tco2e, ',"completeness":'),
        (x.completeness, ',"flags":'),
        (x.flags, ',"interpolated":'),
        (x.interpolated, "}"),
    )
    # "".join of each window's fields and the constant text between them (faster than %);
    # the separators repeat without end, the columns are one per window.
    fields = (p for column, sep in parts for p in (column, repeat(sep)))
    return list(map("".join, zip(*fields, strict=False)))


def encode_windows(
    results: WindowResults,
    *,
    max_per_message: int = MAX_WINDOWS_PER_MESSAGE,
    texts: WindowTexts | None = None,
) -> Iterator[tuple[bytes, bytes]]:
    """``emissions.windows`` messages ``(key, value)``: one per enterprise (and chunk), in the
    order of their first window; each enterprise's windows in their order."""
    items = window_items(results, texts)
    enterprises: dict[str, int] = {}
    enterprise_of_terms = np.array(
        [enterprises.setdefault(t.enterprise_id, len(enterprises)) for t in results.shared],
        dtype=np.intp,
    )
    enterprise = enterprise_of_terms[results.terms]
    order = np.argsort(enterprise, kind="stable").tolist()
    bounds = np.cumsum(np.bincount(enterprise, minlength=len(enterprises))).tolist()
    first = 0
    for enterprise_id, last in zip(enterprises, bounds, strict=True):
        head = orjson.dumps({"v": WINDOWS_WIRE_VERSION, "enterprise_id": enterprise_id})
        head = head[:-1] + b',"windows":['
        for i in range(first, last, max_per_message):
            body = ",".join(map(items.__getitem__, order[i : min(i + max_per_message, last)]))
            yield enterprise_id.encode(), head + body.encode() + b"]}"
        first = last
