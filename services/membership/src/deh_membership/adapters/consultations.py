"""Consultations and their answers. One answer per member and consultation is the database's
rule (a unique index on both), so that concurrent submissions of one member make one answer;
an answer keeps a copy of the respondent's country, sectors and organisation type as they were
when they answered, for the counts."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from deh_contracts.catalogue.community import ConsultationAnswered, ConsultationOpened
from deh_membership.adapters.conversations import ConversationStore
from deh_membership.adapters.documents import Document, one
from deh_membership.domain import consultations as rules
from deh_membership.domain.consultations import AnswerForm, Consultation, ConsultationForm, Results
from deh_platform.creation import Creation
from deh_platform.errors import Conflict
from deh_platform.identity import Principal
from deh_platform.records import HIDDEN_FIELDS, new_id, now
from deh_platform.runtime import ServiceRuntime


class ConsultationStore:
    def __init__(self, runtime: ServiceRuntime, conversations: ConversationStore) -> None:
        self.runtime = runtime
        self.conversations = conversations  # who reads a space decides who is consulted
        self.consultations: AsyncCollection[Document] = runtime.db.consultations
        self.answers: AsyncCollection[Document] = runtime.db.answers
        self.members: AsyncCollection[Document] = runtime.db.members

    async def create_indexes(self) -> None:
        await self.answers.create_index([("consultation_id", ASCENDING), ("member_id", ASCENDING)], unique=True)

    async def open(self, form: ConsultationForm, caller: Principal, creation: Creation) -> Consultation:
        await self.conversations.squad_members(form.audience)  # a squad that exists (404 otherwise)
        consultation_id = creation.new_id("consultation")
        document = {"_id": consultation_id, **form.model_dump(), "opened_by": caller.member_id, "opened_at": now()}
        event = ConsultationOpened(
            consultation_id=consultation_id,
            audience=form.audience.kind,
            squad_id=form.audience.squad_id,
            questions=len(form.questions),
            opens_at=form.opens_at,
            closes_at=form.closes_at,
            opened_by=caller.member_id,
        )
        await self.runtime.insert(self.consultations, document, [event], creation)
        return await self.consultation(consultation_id)

    async def consultation(self, consultation_id: str) -> Consultation:
        document = await one(self.consultations, consultation_id, "consultation")
        return Consultation(consultation_id=document["_id"], **document)

    async def visible(self, consultation_id: str, caller: Principal) -> Consultation:
        """To its audience, and to those who consult (whatever the audience)."""
        consultation = await self.consultation(consultation_id)
        if not rules.consults(caller):
            await self.conversations.require_may_read(consultation.audience, caller)
        return consultation

    async def answer(self, consultation_id: str, form: AnswerForm, caller: Principal) -> Document:
        """The member's answer, first or changed, while the consultation is open."""
        consultation = await self.visible(consultation_id, caller)
        at = now()
        rules.require_open(consultation, at)
        rules.require_valid(consultation, form)
        member = await self.members.find_one({"_id": caller.member_id}, {"profile": 1, "organisation_type": 1}) or {}
        profile = member.get("profile") or {}
        answer = {
            "answers": form.answers,
            "named": form.named,
            "country": profile.get("country"),
            "sectors": profile.get("sectors", []),
            "organisation_type": member.get("organisation_type"),
            "updated_at": at,
        }
        mine = {"consultation_id": consultation_id, "member_id": caller.member_id}
        first = await self._first(mine, answer, at)
        if not first:
            changed = ConsultationAnswered(consultation_id=consultation_id, first_answer=False, answered_at=at)
            existing = await self.answers.find_one(mine, {"_id": 1})
            assert existing is not None
            await self.runtime.write(self.answers, {"_id": existing["_id"], **mine}, {"$set": answer}, [changed])
        return await self.mine(consultation_id, caller)

    async def _first(self, mine: Document, answer: Document, at: Any) -> bool:
        """Insert the member's first answer; False when they have one (the unique index decides
        between concurrent first answers)."""
        event = ConsultationAnswered(consultation_id=mine["consultation_id"], first_answer=True, answered_at=at)
        try:
            await self.runtime.insert(self.answers, {"_id": new_id(), **mine, **answer, "answered_at": at}, [event])
        except DuplicateKeyError:
            return False
        return True

    async def mine(self, consultation_id: str, caller: Principal) -> Document:
        mine = {"consultation_id": consultation_id, "member_id": caller.member_id}
        document = await self.answers.find_one(mine, {**HIDDEN_FIELDS, "_id": 0})
        if document is None:
            raise Conflict("you have not answered this consultation")
        return document

    async def results(self, consultation_id: str, caller: Principal) -> Results:
        consultation = await self.visible(consultation_id, caller)
        rules.require_results_shown(consultation, caller, now())
        stored = self.answers.find(
            {"consultation_id": consultation_id}, {"answers": 1, "country": 1, "sectors": 1, "organisation_type": 1}
        )
        return rules.results(consultation, [answer async for answer in stored])

    async def free_texts(self, consultation_id: str) -> list[Document]:
        """The free-text answers for analysis: with the respondent's name, country, sectors and
        organisation type only when they agreed to be named (in a small audience those would
        name them too)."""
        consultation = await self.consultation(consultation_id)
        free = [question.question_id for question in consultation.questions if question.kind == "free_text"]
        answers = [answer async for answer in self.answers.find({"consultation_id": consultation_id})]
        named = [answer["member_id"] for answer in answers if answer.get("named")]
        found = self.members.find({"_id": {"$in": named}}, {"profile.display_name": 1})
        names = {member["_id"]: (member.get("profile") or {}).get("display_name") async for member in found}
        exported = []
        for answer in answers:
            shown = bool(answer.get("named"))
            about = {
                "respondent": names.get(answer["member_id"]) if shown else None,
                "country": answer.get("country") if shown else None,
                "sectors": answer.get("sectors", []) if shown else [],
                "organisation_type": answer.get("organisation_type") if shown else None,
            }
            exported += [
                {"question_id": question_id, "text": answer["answers"][question_id], **about}
                for question_id in free
                if question_id in answer["answers"]
            ]
        return exported
