"""Conversations of the Community of Practice (issue 17): threads in a space, posts and replies,
and who may read and write where. Pure rules: the store reads what they need (a squad's selected
members) and the routes pass the caller.

A space is the whole community (every active member), a squad (its selected members) or the NAS
network (the National Advisory Services' coordinators). Staff who moderate (moderators, admins)
read every space, so that a report from anywhere can be looked at; they write where they may read.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from deh_contracts.vocabulary import Identifier, Language
from deh_platform.errors import Conflict, Forbidden, TooMany
from deh_platform.identity import Principal

SpaceKind = Literal["community", "squad", "nas_network"]
# What a reader may say of a post without writing one.
Reaction = Literal["like", "insightful", "agree", "thanks"]
MAX_TEXT = 20_000
MAX_MENTIONS = 20


class Space(BaseModel):
    """Where a thread is: `squad_id` names the squad of a squad's thread, and only then."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SpaceKind
    squad_id: Identifier | None = None

    @model_validator(mode="after")
    def squad_only_for_a_squad(self) -> Space:
        if (self.kind == "squad") != (self.squad_id is not None):
            raise ValueError("squad_id names the squad of a thread in a squad, and is given for no other space")
        return self


class Mention(BaseModel):
    """A practice or an event that a post points to, by its id."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["practice", "event"]
    id: Identifier


class PostForm(BaseModel):
    """A post as its author writes it: the text and the language it is written in."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT)
    language: Language
    mentions: list[Mention] = Field(default_factory=list, max_length=MAX_MENTIONS)


class ReplyForm(PostForm):
    reply_to: Identifier | None = Field(None, description="The post this one answers, in the same thread.")


class ThreadForm(PostForm):
    """A thread: its title and opening post, in one language, in a space."""

    space: Space
    title: str = Field(min_length=3, max_length=200)


class Reason(BaseModel):
    """Why a post is reported, hidden or restored, or a thread locked: recorded with who did it."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=10, max_length=2000)


class PostView(BaseModel):
    post_id: str
    thread_id: str
    reply_to: str | None
    author_id: str | None = Field(description="None once the author is erased.")
    language: str
    text: str | None = Field(description="None for a post its author deleted, or a moderator hid (but to moderators).")
    mentions: list[Mention]
    version: int
    deleted: bool
    hidden: bool
    reactions: dict[str, int] = Field(description="How many readers reacted, by reaction.")
    written_at: datetime
    edited_at: datetime | None


class Page(BaseModel):
    """Where a list goes on (the cursor its page before gave) and how much of it to give."""

    model_config = ConfigDict(extra="forbid")

    cursor: str | None = Field(None, max_length=500, description="The `next_cursor` of the page before.")
    limit: int = Field(50, ge=1, le=100)


class PostPage(BaseModel):
    posts: list[PostView]
    next_cursor: str | None = Field(description="Where the next page begins; None on the last page.")


class Report(BaseModel):
    reported_by: str | None
    reason: str
    reported_at: datetime


class ReportedPost(BaseModel):
    """A post in the moderators' queue: what it says and every open report of it."""

    post: PostView
    reports: list[Report]


# Posting is limited per member: a community of professionals, not a chat.
POSTS_PER_HOUR = 30


class ThreadView(BaseModel):
    thread_id: str
    space: Space
    title: str
    language: str
    started_by: str | None
    started_at: datetime
    posts: int = Field(description="How many posts it has, the opening one included.")
    last_post_at: datetime
    locked: bool = Field(description="A locked thread is read, no more written.")


class ThreadPage(BaseModel):
    threads: list[ThreadView]
    next_cursor: str | None = Field(description="Where the next page begins; None on the last page.")


def may_read(space: Space, caller: Principal, squad_members: Collection[str] = ()) -> bool:
    """Whether `caller` (an active member or staff, as the routes check) reads threads in `space`;
    `squad_members` are the members a squad selected, for a squad's space."""
    if caller.is_staff:  # moderators and admins
        return True
    if space.kind == "community":
        return True
    if space.kind == "squad":
        return caller.member_id in squad_members
    return caller.has("nas_coordinator")


def require_may_read(space: Space, caller: Principal, squad_members: Collection[str] = ()) -> None:
    if not may_read(space, caller, squad_members):
        raise Forbidden(_only(space))


def require_open(locked: bool) -> None:
    """A locked thread is read, no more written."""
    if locked:
        raise Conflict("the thread is locked: it takes no more posts")


def text_shown(hidden: bool, caller: Principal) -> bool:
    """A hidden post keeps its place; its text (and history) is for moderators alone."""
    return not hidden or caller.is_staff


def shown_to(post: PostView, caller: Principal) -> PostView:
    if text_shown(post.hidden, caller):
        return post
    return post.model_copy(update={"text": None, "mentions": []})


def require_not_hidden(post: PostView) -> None:
    if post.hidden:
        raise Conflict("a moderator hid the post: it is not edited until it is restored")


def require_not_deleted(post: PostView) -> None:
    if post.deleted:
        raise Conflict("the post was deleted")


def require_may_post(written_last_hour: int) -> None:
    if written_last_hour >= POSTS_PER_HOUR:
        raise TooMany(f"at most {POSTS_PER_HOUR} posts an hour", retry_after=600)


def require_not_own_post(post: PostView, caller: Principal) -> None:
    """Nobody moderates their own post."""
    if post.author_id == caller.member_id:
        raise Forbidden("a moderator does not decide on their own post")


def require_author(post: PostView, caller: Principal) -> None:
    """A post is edited and deleted by its author alone (moderators hide, they do not rewrite)."""
    if post.author_id != caller.member_id:
        raise Forbidden("only the author of a post edits or deletes it")
    if post.deleted:
        raise Conflict("the post was deleted")


def _only(space: Space) -> str:
    return {
        "community": "only active members read the community's threads",
        "squad": "only the squad's members read its threads",
        "nas_network": "only the National Advisory Services' coordinators read the NAS network's threads",
    }[space.kind]
