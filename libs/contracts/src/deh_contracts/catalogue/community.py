"""The Community of Practice's conversations (issue 17): threads in the whole community, in a
squad or in the NAS network, and their posts. The events say who wrote where and when, never
what: the text of a post is personal data that stays in membership, where its author's erasure
reaches it, while these events are kept forever for monitoring's counts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from deh_contracts.people import PersonId
from deh_contracts.registry import COMMUNITY, Contract, message_type
from deh_contracts.vocabulary import Language, enum_schema, one_of

PREFIX = "eu.deh.community."
SPACE_KINDS = ["community", "squad", "nas_network"]
SpaceKind = Annotated[str, AfterValidator(one_of("space", SPACE_KINDS)), enum_schema(SPACE_KINDS)]


@message_type(PREFIX + "thread.started.v1", topic=COMMUNITY, subject="thread_id")
class ThreadStarted(Contract):
    """A member started a thread (with its opening post) in a space: the whole community, a
    squad (its members read it) or the NAS network (its coordinators read it)."""

    thread_id: str
    space: SpaceKind
    squad_id: str | None = Field(None, description="The squad, for a thread in a squad.")
    language: Language
    started_by: PersonId
    started_at: datetime


@message_type(PREFIX + "post.written.v1", topic=COMMUNITY, subject="thread_id")
class PostWritten(Contract):
    """A member wrote a post in a thread (the opening post, or a reply to `reply_to`)."""

    thread_id: str
    post_id: str
    reply_to: str | None = None
    space: SpaceKind
    language: Language
    author: PersonId
    written_at: datetime


@message_type(PREFIX + "post.edited.v1", topic=COMMUNITY, subject="thread_id")
class PostEdited(Contract):
    """The author edited a post: its `version`th text (the earlier ones are kept as its history)."""

    thread_id: str
    post_id: str
    version: int = Field(ge=2)
    language: Language
    edited_at: datetime


@message_type(PREFIX + "post.reported.v1", topic=COMMUNITY, subject="thread_id")
class PostReported(Contract):
    """A reader reported a post to the moderators (who reported it, and why, stay in membership)."""

    thread_id: str
    post_id: str
    reported_at: datetime


@message_type(PREFIX + "post.hidden.v1", topic=COMMUNITY, subject="thread_id")
class PostHidden(Contract):
    """A moderator hid a post (the reason is recorded in membership)."""

    thread_id: str
    post_id: str
    hidden_by: PersonId
    hidden_at: datetime


@message_type(PREFIX + "post.restored.v1", topic=COMMUNITY, subject="thread_id")
class PostRestored(Contract):
    """A moderator showed a hidden post again."""

    thread_id: str
    post_id: str
    restored_by: PersonId
    restored_at: datetime


@message_type(PREFIX + "thread.locked.v1", topic=COMMUNITY, subject="thread_id")
class ThreadLocked(Contract):
    """A moderator locked a thread: it is read, no more written."""

    thread_id: str
    locked_by: PersonId
    locked_at: datetime


@message_type(PREFIX + "thread.unlocked.v1", topic=COMMUNITY, subject="thread_id")
class ThreadUnlocked(Contract):
    """A moderator unlocked a thread: it takes posts again."""

    thread_id: str
    unlocked_by: PersonId
    unlocked_at: datetime


@message_type(PREFIX + "consultation.opened.v1", topic=COMMUNITY, subject="consultation_id")
class ConsultationOpened(Contract):
    """A moderator or the Commission opened a consultation of an audience (a space)."""

    consultation_id: str
    audience: SpaceKind
    squad_id: str | None = None
    questions: int = Field(ge=1)
    opens_at: datetime
    closes_at: datetime
    opened_by: PersonId


@message_type(PREFIX + "consultation.answered.v1", topic=COMMUNITY, subject="consultation_id")
class ConsultationAnswered(Contract):
    """Someone answered a consultation, or changed their answer: a count, never who or what."""

    consultation_id: str
    first_answer: bool = Field(description="False when an answer was changed.")
    answered_at: datetime


@message_type(PREFIX + "post.deleted.v1", topic=COMMUNITY, subject="thread_id")
class PostDeleted(Contract):
    """The author deleted a post: its text and history are gone, its place in the thread stays."""

    thread_id: str
    post_id: str
    deleted_at: datetime
