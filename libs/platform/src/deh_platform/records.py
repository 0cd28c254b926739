"""What every service's store repeats: the time of a change, new ids, and the projection that
keeps the platform's bookkeeping fields (outbox, claims, sequence, applied events, search marks) out of what
a store reads to show."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from deh_platform.idempotency import APPLIED_FIELD
from deh_platform.outbox import CLAIM_FIELD, OUTBOX_FIELD, REMOVE_FIELD, SEQUENCE_FIELD, SET_ASIDE_FIELD

CREATION_FIELD = "_creation"  # the Idempotency-Key a resource was created under (deh_platform.creation)
REVISION_FIELD = "revision"  # counts an aggregate's changes (ServiceRuntime.change)
SEARCH_PENDING_FIELD = "search_pending"  # marks a document for its search index (deh_platform.search_index)
HIDDEN_FIELDS = {
    name: 0
    for name in (
        OUTBOX_FIELD,
        CLAIM_FIELD,
        SEQUENCE_FIELD,
        SET_ASIDE_FIELD,
        APPLIED_FIELD,
        CREATION_FIELD,
        REMOVE_FIELD,
        SEARCH_PENDING_FIELD,
    )
}


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex
