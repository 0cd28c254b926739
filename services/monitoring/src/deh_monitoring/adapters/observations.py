"""External observations from partners (national figures, results of EU-funded projects): each
is checked, recorded as `observation recorded` on the monitoring stream (kept forever, so the
observations index can be rebuilt from it like the rest), and answered with an outcome."""

from __future__ import annotations

from deh_contracts import CloudEvent
from deh_contracts.catalogue.inbound import ObservationSubmitted
from deh_contracts.catalogue.monitoring import ObservationRecorded
from deh_contracts.registry import OBSERVATIONS
from deh_monitoring.domain.targets import observation_problems
from deh_platform.consumer import RefusedMessage
from deh_platform.idempotency import derived_id
from deh_platform.partners import Request
from deh_platform.runtime import ServiceRuntime


def subscribe_observations(runtime: ServiceRuntime) -> None:
    base = runtime.settings.consumer_group or runtime.name
    consumer = runtime.consumer([OBSERVATIONS], group=f"{base}-observations")

    @consumer.on(ObservationSubmitted)
    async def submitted(event: CloudEvent[ObservationSubmitted]) -> None:
        submission = event.data
        sender = Request(submission.partner, submission.external_id, event.id, "observation")
        problems = observation_problems(submission.observation)
        if problems:
            await sender.reject(runtime, problems)
            return
        # The same partner's id again is a correction: the same observation, its newest value.
        observation_id = derived_id("observation", submission.partner, submission.external_id)
        # The submission's time, not now: a redelivery publishes the very same message.
        recorded = ObservationRecorded(
            observation_id=observation_id,
            observation=submission.observation,
            partner=submission.partner,
            recorded_at=event.time,
        )
        # Message ids are each partner's own: two partners' messages are two recordings.
        await runtime.publish_now(recorded, event_id=derived_id("recorded", sender.answer_key), time=event.time)
        await sender.accept(runtime, observation_id)

    @consumer.on_refused(OBSERVATIONS)
    async def broken(message: RefusedMessage) -> None:
        await Request.refused(message, "observation").reject(runtime, message.error.errors)
