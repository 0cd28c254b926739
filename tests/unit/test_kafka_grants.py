"""Who may do what on Kafka (decision 0019), checked against what each service really does: the
grants that provisioning gives a service cover every topic its app writes, reads and creates,
and partners' topics are per partner, so that each partner's identity is the topic it may
write."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from fastapi import FastAPI

from deh_contracts.registry import DEAD_LETTERS, OUTCOMES, PRACTICE_SUBMISSIONS, REDRIVE, SERVICES, TOPICS
from deh_platform.access import Grant, partner_grants, partner_name_problem, service_grants
from deh_platform.operations import Letter, NotTheServicesGroup, redrive
from deh_platform.runtime import ServiceRuntime


def runtime_of(service: str) -> ServiceRuntime:
    (entry,) = entry_points(group="deh.services", name=service)
    app: FastAPI = entry.load()
    runtime: ServiceRuntime = app.state.runtime
    return runtime


def allowed(grants: list[Grant], operation: str, topic: str) -> bool:
    return any(g.operation == operation and g.resource == "topic" and g.name == topic for g in grants)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_is_granted_what_its_app_writes_reads_and_creates_and_no_more(service: str) -> None:
    runtime, grants = runtime_of(service), service_grants(service)
    own = [topic for topic in runtime.topics() if not topic.per_partner]
    for topic in own:
        assert allowed(grants, "create", topic.name)
        assert allowed(grants, "describe_configs", topic.name)
    for topic in runtime.produces:
        if not topic.per_partner:
            assert allowed(grants, "write", topic.name), topic.name
    for consumer in runtime.consumers:
        assert consumer.group.startswith(service)
        for topic in consumer.topics:
            if not topic.per_partner:
                assert allowed(grants, "read", topic.name), topic.name
    touched = {topic.name for topic in own}
    assert {grant.name for grant in grants if grant.resource == "topic"} <= touched
    assert [g for g in grants if g.resource == "group"] == [Grant(service, "read", "group", service, prefixed=True)]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_is_granted_each_partners_topics_that_it_reads_or_answers_on(service: str) -> None:
    runtime, grants = runtime_of(service), partner_grants("salto")
    for consumer in runtime.consumers:
        for topic in consumer.topics:
            if topic.per_partner:
                assert Grant(service, "read", "topic", topic.of_partner("salto")) in grants
    for topic in runtime.produces:
        if topic.per_partner:
            assert Grant(service, "write", "topic", topic.of_partner("salto")) in grants


def test_a_partner_writes_its_inbound_topics_and_reads_its_outcomes_in_its_own_groups() -> None:
    mine = [grant for grant in partner_grants("salto") if grant.user == "salto"]
    inbound = {topic.of_partner("salto") for topic in TOPICS if topic.inbound}
    assert {g.name for g in mine if g.operation == "write"} == inbound
    assert {g.name for g in mine if g.operation == "read" and g.resource == "topic"} == {OUTCOMES.of_partner("salto")}
    assert Grant("salto", "read", "group", "salto.", prefixed=True) in mine
    assert not any(g.prefixed and g.resource == "topic" for g in partner_grants("salto"))


def test_a_partners_topic_names_the_partner() -> None:
    name = PRACTICE_SUBMISSIONS.of_partner("salto-eu")
    assert name == "deh.partner.salto-eu.practice-submissions.v1"
    assert PRACTICE_SUBMISSIONS.owner_of(name) == "salto-eu"
    assert PRACTICE_SUBMISSIONS.owner_of(OUTCOMES.of_partner("salto-eu")) is None
    assert PRACTICE_SUBMISSIONS.owner_of("deh.partner.a.b.practice-submissions.v1") is None
    with pytest.raises(ValueError, match="not a partner name"):
        PRACTICE_SUBMISSIONS.of_partner("Salto.EU")


@pytest.mark.parametrize("name", ["admin", "practices-eu", "events", "Salto", "salto.eu", "", "a" * 101])
def test_a_partner_cannot_take_a_name_that_is_not_one_or_that_a_service_or_the_admin_has(name: str) -> None:
    assert partner_name_problem(name) is not None


@pytest.mark.parametrize("name", ["salto", "erasmus-plus-results", "eun_2", "a" * 100])
def test_a_partner_name_is_short_lower_case_without_dots(name: str) -> None:
    assert partner_name_problem(name) is None


def test_a_service_writes_only_its_own_dead_letters_and_reads_only_what_is_redriven_to_it() -> None:
    grants = service_grants("events")
    topics = {(grant.operation, grant.name) for grant in grants if grant.operation in ("read", "write")}
    assert ("write", DEAD_LETTERS.of_service("events")) in topics
    assert ("read", REDRIVE.of_service("events")) in topics
    others = [name for _, name in topics if "deadletter" in name or "redrive" in name]
    assert sorted(others) == sorted([DEAD_LETTERS.of_service("events"), REDRIVE.of_service("events")])


async def test_the_operator_refuses_to_redrive_a_dead_letter_naming_another_services_group() -> None:
    # Written to events' dead letters, naming a practices group: only events could have written it.
    forged = Letter("letter-1", "events", {"consumer_group": "practices", "origin_topic": "deh.partner.salto.x.v1"})
    with pytest.raises(NotTheServicesGroup, match="letter-1"):
        await redrive({"bootstrap_servers": "127.0.0.1:1"}, [forged])
