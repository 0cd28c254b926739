"""How messages name people (decision 0015).

The domain streams are kept forever, so they never hold a member's account id (the `sub` of
their token, which the API uses): a member appears there by a reference that membership draws
at random when they apply, `person:` and 24 hex digits. Only membership's people topic,
compacted and keyed by account id, links the two, and an erasure's tombstone removes that link;
the references left in the streams' history then point at nobody. Account ids never hold a
colon (they are identifiers), so a reference is never mistaken for one.

Fields that name a person are declared `PersonId` (their JSON Schema says `x-deh-person`): the
platform replaces the account ids a service writes there by references as the events are
stored, and a service that needs the account behind a reference asks its copy of the members.
A person with no reference (staff who are not members) appears by account id.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from pydantic import BaseModel, Field

REFERENCE_PREFIX = "person:"
# On the people topic's tombstone of an erased member: their reference, so that a service that
# never saw the member's records (the log cleaner removed them) still learns who is gone.
REFERENCE_HEADER = "deh_person_reference"
PERSON_MARK = "x-deh-person"

PersonId = Annotated[
    str,
    Field(
        min_length=1,
        json_schema_extra={PERSON_MARK: True},
        description="A person: a member's reference (`person:...`), or the account id of staff who are not members.",
    ),
]


def new_reference() -> str:
    return REFERENCE_PREFIX + secrets.token_hex(12)


def is_reference(value: str) -> bool:
    return value.startswith(REFERENCE_PREFIX)


def person_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The top-level fields of a message model that hold a person or a list of people."""
    properties: dict[str, Any] = model.model_json_schema().get("properties", {})
    return tuple(name for name, schema in properties.items() if _names_a_person(schema))


def _names_a_person(schema: dict[str, Any]) -> bool:
    if schema.get(PERSON_MARK):
        return True
    parts = [schema["items"]] if "items" in schema else []
    return any(_names_a_person(part) for part in [*parts, *schema.get("anyOf", [])])
