"""Paging of membership's lists (the directory, threads, posts): an opaque cursor over a stable
order, a sort key and then the id, that says where the last page ended."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from bson import json_util

from deh_platform.errors import InvalidInput

# A key a cursor may carry: a name or a time (never a query operator: a cursor is user input).
Key = str | datetime
_TIMES_IN_UTC = json_util.JSONOptions(tz_aware=True)


def encode_cursor(key: Key, document_id: str) -> str:
    return base64.urlsafe_b64encode(json_util.dumps([key, document_id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[Key, str]:
    problem = InvalidInput(("query", "cursor"), "the cursor is not one this list gave out")
    try:
        decoded: Any = json_util.loads(base64.urlsafe_b64decode(cursor.encode()), json_options=_TIMES_IN_UTC)
    except Exception as error:  # base64, JSON and BSON's extended JSON each raise their own
        raise problem from error
    match decoded:
        case [str() | datetime() as key, str() as document_id]:
            return key, document_id
    raise problem
