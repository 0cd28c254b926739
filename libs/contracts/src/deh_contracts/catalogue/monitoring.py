"""Monitoring: observations accepted into the monitoring of the Digital Education Action Plan."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from deh_contracts.registry import MONITORING, Contract, message_type
from deh_contracts.vocabulary import Country, EuLevelTarget


class ObservationValue(Contract):
    """One measured value: an indicator for a place and a period."""

    indicator: str = Field(min_length=1, max_length=100)
    target: EuLevelTarget | None = None
    country: Country | None = None
    period_start: datetime
    period_end: datetime
    value: float
    unit: str = Field(min_length=1, max_length=40)
    source: str = Field(min_length=1, max_length=300)
    reference: str | None = Field(None, max_length=300)


@message_type("eu.deh.monitoring.observation.recorded.v1", topic=MONITORING, subject="observation_id")
class ObservationRecorded(Contract):
    """An external observation was accepted and recorded."""

    observation_id: str
    observation: ObservationValue
    partner: str
    recorded_at: datetime
