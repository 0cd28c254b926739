"""What practices learns from Kafka: partner submissions (answered with an outcome), members'
status, names and erasure from membership's people topic, hackathon submissions and squad
outputs to turn into practices."""

from __future__ import annotations

from typing import Any

from deh_contracts import CloudEvent
from deh_contracts.catalogue.events import HackathonSubmissionMade
from deh_contracts.catalogue.inbound import PracticeSubmissionRequested, PracticeSubmissionRevised
from deh_contracts.catalogue.membership import MemberPerson, SquadOutputRecorded
from deh_contracts.catalogue.practices import Origin, PracticeMetadata, ResultType
from deh_contracts.errors import FieldError
from deh_contracts.registry import EVENTS, MEMBERSHIP, PEOPLE, PRACTICE_SUBMISSIONS
from deh_platform.consumer import RefusedMessage
from deh_platform.errors import Conflict, TransientError
from deh_platform.idempotency import derived_id
from deh_platform.partners import Answers, Request, content_digest
from deh_platform.records import HIDDEN_FIELDS
from deh_platform.runtime import ServiceRuntime
from deh_practices.adapters.store import PracticeStore
from deh_practices.domain.practices import ALLOWED_FROM, Edit, Status, metadata_problems

SQUAD_OUTPUT_TYPES: dict[str, ResultType] = {
    "white_paper": "white_paper",
    "report": "report",
    "guidelines": "handbook",
    "toolkit": "tool",
}


def subscribe(runtime: ServiceRuntime, store: PracticeStore) -> None:
    consumer = runtime.consumer([PRACTICE_SUBMISSIONS, MEMBERSHIP, PEOPLE, EVENTS])
    answers = Answers(runtime.db.partner_answers)

    async def accounts(people: list[str], event: CloudEvent[Any]) -> list[str]:
        """The authors' account ids (events name members by reference); erased ones are left out."""
        return [account for account in await store.people.accounts(people, event_id=event.id) if account]

    @consumer.on(PracticeSubmissionRequested)
    async def partner_submission(event: CloudEvent[PracticeSubmissionRequested]) -> None:
        """Every message gets one outcome, and the same message (its id and content) the same
        outcome, with the same id, however often it comes and whatever changed since: partners
        retry when an outcome is lost (decision 0018). So a message is first looked up as
        answered before (a rejection kept, or the practice it created), then checked."""
        request = event.data
        if (opened := await not_answered(event)) is None:
            return
        sender, practice_id, digest = opened
        existing = await store.practices.find_one({"_id": practice_id}, {"request_id": 1, "request_digest": 1})
        if existing is not None and existing["request_id"] == event.id:
            await accepted_again(sender, practice_id, existing.get("request_digest", digest), digest)
            return
        if problems := metadata_problems(request.metadata):
            await sender.reject(runtime, problems, answers, digest)
            return
        if existing is not None:
            duplicate = FieldError("external_id", f"already submitted as practice {practice_id}", "duplicate")
            await reject_after_acceptances(sender, practice_id, [duplicate], digest)
            return
        await store.create(
            practice_id=practice_id,
            metadata=request.metadata,
            body=request.body,
            author_ids=[],
            author_names=request.author_names,
            status="submitted",
            created_by=f"partner:{request.partner}",
            # The acceptance goes through the practice's outbox, with its creation.
            extra_events=[sender.acceptance_event(runtime, practice_id)],
            request_id=event.id,
            request_digest=digest,
        )

    @consumer.on(PracticeSubmissionRevised)
    async def partner_revision(event: CloudEvent[PracticeSubmissionRevised]) -> None:
        """The practice's next version, with the same one-outcome rules as a submission: each
        version remembers the message's id and fingerprint, so a replay is answered again."""
        revision = event.data
        if (opened := await not_answered(event)) is None:
            return
        sender, practice_id, digest = opened
        document = await store.practices.find_one({"_id": practice_id}, HIDDEN_FIELDS)
        if document is not None:
            if document.get("request_id") == event.id:  # the submission's id, reused
                await sender.conflict(runtime, digest)
                return
            applied = next((entry for entry in document["versions"] if entry.get("request_id") == event.id), None)
            if applied is not None:
                await accepted_again(sender, practice_id, applied.get("request_digest"), digest)
                return
        problems = metadata_problems(revision.metadata)
        if document is None:
            problems.append(FieldError("external_id", "no practice was submitted with this external_id", "not_found"))
            await sender.reject(runtime, problems, answers, digest)
            return
        if document["status"] not in ALLOWED_FROM["edit"]:
            reason = f"the practice is {document['status']}: a revision is taken when it is not in review"
            problems.append(FieldError("external_id", reason, "conflict"))
        if problems:
            await reject_after_acceptances(sender, practice_id, problems, digest)
            return
        try:
            await store.new_version(
                document,
                Edit(metadata=revision.metadata, body=revision.body),
                f"partner:{revision.partner}",
                status="submitted",  # a partner has no submit step: the version goes to review
                request_id=event.id,
                request_digest=digest,
                extra_events=[sender.acceptance_event(runtime, practice_id)],
            )
        except Conflict as error:  # changed meanwhile (a reviewer assigned): read it again
            raise TransientError(str(error)) from error

    async def not_answered(
        event: CloudEvent[PracticeSubmissionRequested] | CloudEvent[PracticeSubmissionRevised],
    ) -> tuple[Request, str, str] | None:
        """The sender, the practice and the content's fingerprint of a message not rejected
        before (one that was is answered again here: None)."""
        data = event.data
        sender = Request(data.partner, data.external_id, event.id, "practice")
        digest = content_digest(data)
        if await sender.answer_again(runtime, answers, digest):
            return None
        return sender, derived_id("partner", data.partner, data.external_id), digest

    async def accepted_again(sender: Request, practice_id: str, kept_digest: str | None, digest: str) -> None:
        if kept_digest in (None, digest):
            await sender.accept(runtime, practice_id)  # the same message again: the same answer
        else:
            await sender.conflict(runtime, digest)

    async def reject_after_acceptances(
        sender: Request, practice_id: str, problems: list[FieldError], digest: str
    ) -> None:
        """Kept, then through the practice's outbox: it leaves after the practice's acceptances."""
        rejection = sender.rejection_event(runtime, problems)
        await answers.keep(sender, digest, rejection)
        await runtime.write(store.practices, {"_id": practice_id}, {}, [rejection])

    @consumer.on_refused(PRACTICE_SUBMISSIONS)
    async def broken_submission(message: RefusedMessage) -> None:
        await Request.refused(message, "practice").reject(runtime, message.error.errors)

    @consumer.on(MemberPerson)
    async def person(event: CloudEvent[MemberPerson]) -> None:
        await store.remember_person(event.data, event.sequence_number)

    @consumer.on_tombstone(PEOPLE)
    async def person_erased(member_id: str, headers: dict[str, str]) -> None:
        await store.anonymise(member_id, headers)

    @consumer.on(HackathonSubmissionMade)
    async def hackathon_submission(event: CloudEvent[HackathonSubmissionMade]) -> None:
        submission = event.data
        metadata = PracticeMetadata(
            title={"en": submission.title},
            summary={"en": submission.summary},
            languages=["en"],
            licence="NOASSERTION",  # the team chooses it before the practice is submitted
            links=submission.links,
            result_type="tool",
            origin=Origin(kind="hackathon", reference=submission.team_id),
        )
        await create_once(
            store,
            derived_id("hackathon", submission.submission_id),
            metadata,
            await accounts(submission.member_ids, event),
            "draft",
            f"team:{submission.team_id}",
        )

    @consumer.on(SquadOutputRecorded)
    async def squad_output(event: CloudEvent[SquadOutputRecorded]) -> None:
        output = event.data
        metadata = PracticeMetadata(
            title={output.language: output.title},
            summary={output.language: output.summary},
            languages=[output.language],
            licence="CC-BY-4.0",
            links=output.links,
            result_type=SQUAD_OUTPUT_TYPES.get(output.kind, "other"),
            origin=Origin(kind="squad", reference=output.squad_id),
        )
        await create_once(
            store,
            derived_id("squad-output", output.output_id),
            metadata,
            await accounts(output.author_ids, event),
            "submitted",
            f"squad:{output.squad_id}",
        )


async def create_once(
    store: PracticeStore, practice_id: str, metadata: PracticeMetadata, authors: list[str], status: Status, by: str
) -> None:
    try:
        await store.create(
            practice_id=practice_id,
            metadata=metadata,
            body="",
            author_ids=authors,
            author_names=[],
            status=status,
            created_by=by,
        )
    except Conflict:  # created by an earlier delivery, which may have failed before reconciling
        await store.reconcile_authors(practice_id)
