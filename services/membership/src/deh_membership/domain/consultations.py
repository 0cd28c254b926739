"""Consultations of the Community of Practice (issue 17): the Commission or a moderator asks an
audience (a space) a few questions for a while; each member answers once and may change the
answer until it closes; results are counted by country, sector and organisation type. Pure
rules and the counting; the store reads and writes."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from deh_contracts.vocabulary import Identifier
from deh_membership.domain.conversations import Space
from deh_platform.errors import Conflict, Forbidden, InvalidInput
from deh_platform.identity import Principal

QuestionKind = Literal["single_choice", "multiple_choice", "scale", "free_text"]
OPENING = ("moderator", "commission", "admin")
# A group of the results smaller than this is counted under SMALL_GROUPS, not by its name: a
# country or an organisation type with one or two respondents would name them.
MIN_GROUP = 5
SMALL_GROUPS = "(groups of fewer than 5)"
UNKNOWN = "(unknown)"
MAX_FREE_TEXT = 5000
DIMENSIONS = ("country", "sector", "organisation_type")


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question_id: Identifier
    kind: QuestionKind
    text: str = Field(min_length=3, max_length=1000)
    options: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=20, description="The choices of a choice question."
    )
    scale_from: int = Field(1, ge=0, le=10)
    scale_to: int = Field(5, ge=1, le=10)

    @model_validator(mode="after")
    def options_for_choices_only(self) -> Question:
        choices = self.kind in ("single_choice", "multiple_choice")
        if choices and len(set(self.options)) < 2:
            raise ValueError("a choice question has at least two different options")
        if not choices and self.options:
            raise ValueError("only a choice question has options")
        if self.scale_to <= self.scale_from:
            raise ValueError("a scale runs from a smaller number to a larger one")
        return self


class ConsultationForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3, max_length=300)
    description: str = Field("", max_length=10_000)
    audience: Space
    questions: list[Question] = Field(min_length=1, max_length=50)
    opens_at: AwareDatetime = Field(description="With its time zone (an offset or Z).")
    closes_at: AwareDatetime

    @model_validator(mode="after")
    def well_formed(self) -> ConsultationForm:
        if self.closes_at <= self.opens_at:
            raise ValueError("a consultation closes after it opens")
        if len({question.question_id for question in self.questions}) != len(self.questions):
            raise ValueError("each question has its own question_id")
        return self


class Consultation(ConsultationForm):
    model_config = ConfigDict(extra="ignore")

    consultation_id: str
    opened_by: str | None


Choice = Annotated[StrictStr, Field(max_length=200)]
Value = (
    Annotated[StrictStr, Field(max_length=MAX_FREE_TEXT)] | Annotated[list[Choice], Field(max_length=20)] | StrictInt
)


class AnswerForm(BaseModel):
    """A member's answers by question id, and whether they agree to be named with their free
    texts when those are exported for analysis."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[Identifier, Value] = Field(max_length=50)
    named: bool = False


def consults(caller: Principal) -> bool:
    """Those who open consultations, read them and their results."""
    return caller.has(*OPENING)


def require_results_shown(consultation: Consultation, caller: Principal, at: datetime) -> None:
    """Results are for those who consult at any time, for the audience once the consultation
    has closed (before, they would sway the answers still to come)."""
    if not consults(caller) and at < consultation.closes_at:
        raise Forbidden("the results are shown to the consulted once the consultation has closed")


def require_open(consultation: Consultation, at: datetime) -> None:
    if not consultation.opens_at <= at < consultation.closes_at:
        raise Conflict("the consultation is not open for answers now")


def answer_problems(consultation: Consultation, form: AnswerForm) -> list[tuple[tuple[str, ...], str]]:
    """Where each answer breaks its question (every question answered, each as its kind asks)."""
    questions = {question.question_id: question for question in consultation.questions}
    problems: list[tuple[tuple[str, ...], str]] = [
        ((qid,), "not a question of this consultation") for qid in form.answers if qid not in questions
    ]
    for qid, question in questions.items():
        if qid not in form.answers:
            problems.append(((qid,), "every question is answered"))
            continue
        if problem := _problem(question, form.answers[qid]):
            problems.append(((qid,), problem))
    return problems


def require_valid(consultation: Consultation, form: AnswerForm) -> None:
    if problems := answer_problems(consultation, form):
        location, message = problems[0]
        raise InvalidInput(("body", "answers", *location), message)


def _problem(question: Question, value: Value) -> str | None:
    if question.kind == "single_choice":
        return None if isinstance(value, str) and value in question.options else "one of the options"
    if question.kind == "multiple_choice":
        fits = (
            isinstance(value, list) and value and len(set(value)) == len(value) and set(value) <= set(question.options)
        )
        return None if fits else "a list of different options, at least one"
    if question.kind == "scale":
        on_scale = isinstance(value, int) and question.scale_from <= value <= question.scale_to
        return None if on_scale else "a whole number on the scale"
    fits = isinstance(value, str) and 0 < len(value) <= MAX_FREE_TEXT
    return None if fits else f"a text of 1 to {MAX_FREE_TEXT} characters"


# Results ---------------------------------------------------------------------------------------


class QuestionResult(BaseModel):
    question_id: str
    kind: QuestionKind
    counts: dict[str, int] = Field(description="Answers per option or scale value; for free text, how many wrote one.")
    by: dict[str, dict[str, dict[str, int]]] = Field(
        description="The same counts for each country, sector and organisation type (a member counts in each of "
        "their sectors)."
    )


class Results(BaseModel):
    consultation_id: str
    respondents: int
    questions: list[QuestionResult]


def results(consultation: Consultation, answers: Iterable[Mapping[str, Any]]) -> Results:
    """Counts of the stored answers: per question (every option and scale value, none left out),
    and per question within each country, sector and organisation type of the respondents (as
    they were when they answered), groups of fewer than MIN_GROUP respondents counted together."""
    stored = list(answers)
    sizes = {
        dimension: Counter(group for answer in stored for d, group in _groups(answer) if d == dimension)
        for dimension in DIMENSIONS
    }
    per_question = []
    for question in consultation.questions:
        counts = Counter(dict.fromkeys(_values_of(question), 0))
        by: dict[str, dict[str, Counter[str]]] = {dimension: defaultdict(Counter) for dimension in DIMENSIONS}
        for answer in stored:
            values = _counted(question, answer["answers"].get(question.question_id))
            counts.update(values)
            for dimension, group in _groups(answer):
                shown = group if sizes[dimension][group] >= MIN_GROUP else SMALL_GROUPS
                by[dimension][shown].update(values)
        per_question.append(
            QuestionResult(
                question_id=question.question_id,
                kind=question.kind,
                counts=dict(counts),
                by={
                    dimension: {group: dict(c) for group, c in sorted(groups.items())}
                    for dimension, groups in by.items()
                },
            )
        )
    return Results(consultation_id=consultation.consultation_id, respondents=len(stored), questions=per_question)


def _values_of(question: Question) -> list[str]:
    """What a question's counts are kept by, in order: its options, or its scale's numbers."""
    if question.kind in ("single_choice", "multiple_choice"):
        return list(question.options)
    if question.kind == "scale":
        return [str(value) for value in range(question.scale_from, question.scale_to + 1)]
    return ["answered"]


def _counted(question: Question, value: Any) -> list[str]:
    if value is None:
        return []
    if question.kind == "free_text":
        return ["answered"]
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def _groups(answer: Mapping[str, Any]) -> list[tuple[str, str]]:
    groups = [("country", answer.get("country") or UNKNOWN)]
    groups += [("sector", sector) for sector in answer.get("sectors") or [UNKNOWN]]
    groups.append(("organisation_type", answer.get("organisation_type") or UNKNOWN))
    return groups
