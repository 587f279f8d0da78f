"""The alphabets of ids and units on every wire (batch records, the EMS push, query parameters,
the registry, the gateway's config). One definition each, in two spellings: ``*_PATTERN`` for
pydantic and JSON Schema (their regex engines read ``$`` as the very end of the text), and
``*_RE`` for Python's ``re``, where ``$`` would also accept a trailing newline, so it ends in
``\\Z``."""

from __future__ import annotations

import re
from typing import Final

# A meter, gateway, park or source id: "/" allowed (a gateway's device keys use it).
ID_BODY: Final = r"[A-Za-z0-9_.:/-]{1,64}"
# A name that is itself one part of a "/"-separated key (an enterprise, a site, a gateway's
# device or server name): no "/".
NAME_BODY: Final = r"[A-Za-z0-9_.:-]{1,64}"
# A batch's source key: a gateway id and a device key.
SOURCE_KEY_BODY: Final = r"[A-Za-z0-9_.:/-]{1,128}"
# A unit as meters and EMS send it (kWh, m3, t, Nm^3/h, %).
UNIT_BODY: Final = r"[A-Za-z0-9^/ %.\-]{1,16}"

ID_PATTERN: Final = f"^{ID_BODY}$"
NAME_PATTERN: Final = f"^{NAME_BODY}$"
UNIT_PATTERN: Final = f"^{UNIT_BODY}$"

ID_RE: Final = re.compile(f"^{ID_BODY}\\Z")
NAME_RE: Final = re.compile(f"^{NAME_BODY}\\Z")
SOURCE_KEY_RE: Final = re.compile(f"^{SOURCE_KEY_BODY}\\Z")
UNIT_RE: Final = re.compile(f"^{UNIT_BODY}\\Z")
