"""JSON for Socket.IO packets: orjson where it can, the standard library where not.

python-socketio encodes every packet with the `json` module it is given; orjson is
several times faster. It refuses a few things the standard library accepts (NaN
and Infinity, integers beyond 64 bits), so those fall back, and every payload that
worked before still works.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(obj: Any, **kwargs: Any) -> str:
    try:
        return orjson.dumps(obj).decode()
    except TypeError:
        return json.dumps(obj, separators=(",", ":"))


def loads(text: str | bytes, **kwargs: Any) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
