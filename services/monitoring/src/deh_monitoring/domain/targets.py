"""The EU-level targets the hub reports against (reference/targets.json), observations of them,
and progress from the baseline towards the target. Rules only: reading the file is the one
exception, at import, of data shipped with the code."""

from __future__ import annotations

import json
import math
from importlib import resources
from typing import Literal

from pydantic import BaseModel

from deh_contracts.catalogue.monitoring import ObservationValue
from deh_contracts.errors import FieldError


class Figure(BaseModel):
    value: float
    year: int
    source: str | None = None


class Target(BaseModel):
    id: str
    text: str
    indicator: str
    unit: str
    direction: Literal["below", "at_least"]
    target: Figure
    baseline: Figure
    source: str

    def progress(self, value: float) -> float:
        """How far from the baseline towards the target a value is: 0 at the baseline, 1 when
        reached (beyond: more than 1; going the wrong way: below 0)."""
        return (value - self.baseline.value) / (self.target.value - self.baseline.value)

    def reached(self, value: float) -> bool:
        return value < self.target.value if self.direction == "below" else value >= self.target.value


TARGETS: dict[str, Target] = {
    target["id"]: Target.model_validate(target)
    for target in json.loads(resources.files("deh_monitoring.reference").joinpath("targets.json").read_text())[
        "targets"
    ]
}


def observation_problems(observation: ObservationValue) -> list[FieldError]:
    """What the contract's schema cannot say about an observation."""
    problems = []
    if observation.period_end < observation.period_start:
        problems.append(FieldError("observation.period_end", "the period ends before it starts", "value_error"))
    if not math.isfinite(observation.value):
        problems.append(FieldError("observation.value", "a value must be a finite number", "value_error"))
    if observation.unit == "percent" and not 0 <= observation.value <= 100:
        problems.append(FieldError("observation.value", "a percentage is between 0 and 100", "value_error"))
    target = TARGETS.get(observation.target) if observation.target else None
    if target is not None and observation.unit != target.unit:
        problems.append(
            FieldError("observation.unit", f"the target {target.id} is measured in {target.unit}", "value_error")
        )
    if target is not None and observation.indicator != target.indicator:
        message = f"the target {target.id} is measured by the indicator {target.indicator}"
        problems.append(FieldError("observation.indicator", message, "value_error"))
    return problems
