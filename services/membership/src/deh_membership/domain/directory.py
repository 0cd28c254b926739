"""The member directory's paging: an opaque cursor over a stable order (name, then id)."""

from __future__ import annotations

import base64
import json

from deh_platform.errors import InvalidInput


def name_key(display_name: str) -> str:
    """The sort and search form of a name: case and surrounding space do not matter."""
    return " ".join(display_name.casefold().split())


def encode_cursor(name: str, member_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([name, member_id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        name, member_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as error:
        raise InvalidInput(("query", "cursor"), "the cursor is not one this directory gave out") from error
    return str(name), str(member_id)
