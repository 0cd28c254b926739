"""A CloudEvent survives the Kafka binding unchanged, and a broken message is refused with every reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deh_contracts import ContractError, from_kafka, new_event, to_kafka
from deh_contracts.catalogue.membership import MemberApproved
from deh_contracts.catalogue.practices import Origin, PracticeMetadata, PracticePublished

pytestmark = pytest.mark.unit

APPROVED = MemberApproved(
    member_id="m-1",
    country="LV",
    sectors=["school", "vet"],
    roles=["member"],
    approved_by="moderator-7",
    approved_at=datetime(2026, 11, 28, 9, 30, tzinfo=UTC),
)


def test_an_event_round_trips_through_a_kafka_record() -> None:
    event = new_event(
        APPROVED, source="/deh/membership", traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    )

    record = to_kafka(event)

    assert record.topic == "deh.membership.v1"
    assert record.key == b"m-1"
    assert dict(record.headers)["ce_type"] == b"eu.deh.membership.member.approved.v1"
    assert dict(record.headers)["traceparent"].startswith(b"00-0af7")
    assert from_kafka(record.value, record.headers) == event


def sample_metadata_event() -> PracticePublished:
    metadata = PracticeMetadata(
        title={"en": "Coding clubs", "pl": "Kluby programowania"},
        summary={"en": "After-school coding"},
        languages=["en", "pl"],
        sectors=["school"],
        isced_levels=["1", "2"],
        digcomp=["3.4"],
        licence="CC-BY-4.0",
        result_type="handbook",
        origin=Origin(kind="eu_project", reference="2023-1-PL01-KA220-SCH-000123456"),
    )
    return PracticePublished(
        practice_id="p-1", version=2, metadata=metadata, author_ids=["m-1"], published_at=datetime.now(UTC)
    )


def test_nested_multilingual_data_round_trips() -> None:
    published = sample_metadata_event()
    event = new_event(published, source="/deh/practices")

    assert from_kafka(to_kafka(event).value, to_kafka(event).headers).data == published


def test_an_unknown_type_is_a_contract_error() -> None:
    record = to_kafka(new_event(APPROVED, source="/deh/membership"))
    headers = [
        (name, b"eu.deh.membership.member.teleported.v1" if name == "ce_type" else value)
        for name, value in record.headers
    ]

    with pytest.raises(ContractError) as refused:
        from_kafka(record.value, headers)

    assert [error.location for error in refused.value.errors] == ["type"]
    assert "teleported" in str(refused.value)


def test_every_missing_header_is_listed() -> None:
    with pytest.raises(ContractError) as refused:
        from_kafka(b"{}", [("ce_type", b"eu.deh.membership.member.approved.v1")])

    assert {error.location for error in refused.value.errors} == {
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_subject",
        "ce_time",
    }


def test_every_missing_or_invalid_field_is_listed_in_one_error() -> None:
    record = to_kafka(new_event(APPROVED, source="/deh/membership"))
    broken = b'{"member_id": "m-1", "country": "XX", "sectors": ["school", "kindergarten"], "roles": "member"}'

    with pytest.raises(ContractError) as refused:
        from_kafka(broken, record.headers)

    locations = {error.location for error in refused.value.errors}
    assert locations == {"data.country", "data.sectors.1", "data.roles", "data.approved_by", "data.approved_at"}


def test_a_value_that_is_not_json_is_a_contract_error() -> None:
    record = to_kafka(new_event(APPROVED, source="/deh/membership"))

    with pytest.raises(ContractError):
        from_kafka(b"\x00not json", record.headers)


def test_unknown_fields_are_ignored_so_additive_changes_do_not_break_readers() -> None:
    record = to_kafka(new_event(APPROVED, source="/deh/membership"))
    newer = record.value[:-1] + b', "mentor_id": "m-9"}'

    assert from_kafka(newer, record.headers).data == APPROVED


def test_no_membership_event_declares_an_email_field() -> None:
    from deh_contracts.registry import all_types

    for spec in all_types().values():
        assert not any("email" in name for name in spec.model.model_fields), spec.type_name


def test_a_tolerant_reader_keeps_a_value_a_newer_producer_added_and_lists_it() -> None:
    record = to_kafka(new_event(sample_metadata_event(), source="/deh/practices"))
    newer = record.value.replace(b'"handbook"', b'"podcast"').replace(b'"school"', b'"space_academy"')
    unknown: list[str] = []

    event = from_kafka(newer, record.headers, unknown_values=unknown)

    assert isinstance(event.data, PracticePublished)
    assert event.data.metadata.result_type == "podcast"
    assert sorted(unknown) == ["result type 'podcast'", "sector 'space_academy'"]
    with pytest.raises(ContractError, match="podcast"):
        from_kafka(newer, record.headers)  # a strict reader (what partners send) refuses it


def test_a_strict_reader_refuses_fields_the_contract_does_not_have_at_any_depth() -> None:
    record = to_kafka(new_event(sample_metadata_event(), source="/deh/practices"))
    invented = record.value.replace(b'"origin":{', b'"origin":{"$where":1,').replace(
        b'"metadata":{', b'"metadata":{"x.y":2,'
    )

    assert from_kafka(invented, record.headers).data == from_kafka(record.value, record.headers).data, "ignored"
    with pytest.raises(ContractError) as refused:
        from_kafka(invented, record.headers, strict_fields=True)
    assert {error.location for error in refused.value.errors} == {"data.metadata.origin.$where", "data.metadata.x.y"}
