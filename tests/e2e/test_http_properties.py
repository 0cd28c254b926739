"""Every service's OpenAPI document tells the truth: requests generated from it (valid and
invalid, with a token of every role and without one) never get a 5xx, never a status the
document does not list for that operation, and every answer matches its documented schema.

Bounded: a fixed number of generated requests per operation (DEH_PROPERTY_EXAMPLES, 25 unless
set), derandomized so that CI is repeatable (DEH_PROPERTY_SEED picks another sequence)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from deh_platform.auth import ROLES, issue_token
from deh_platform.settings import ServiceSettings
from deh_stack.testing import ServerAddresses, ServiceProcess

pytestmark = pytest.mark.e2e

SERVICES = ("membership", "practices", "events", "monitoring")
EXAMPLES = int(os.environ.get("DEH_PROPERTY_EXAMPLES", "25"))
SEED = os.environ.get("DEH_PROPERTY_SEED")
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]


@pytest.fixture(params=SERVICES)
async def service(request: pytest.FixtureRequest, servers: ServerAddresses) -> AsyncIterator[ServiceProcess]:
    name: str = request.param
    isolated = f"{name}-properties-{uuid.uuid4().hex[:8]}"  # its Kafka user's groups start with its name
    own = {"MONGO_DATABASE": isolated, "CONSUMER_GROUP": isolated, "SEARCH_ALIAS": isolated, "INDEX_PREFIX": isolated}
    environment = {**servers.environment(name), **{f"DEH_{name.upper()}_{key}": value for key, value in own.items()}}
    process = ServiceProcess(name, {**environment, f"DEH_{name.upper()}_LOG_LEVEL": "WARNING"})
    await process.start()
    yield process
    process.stop()


def callers() -> dict[str, dict[str, str]]:
    """No token, and a token that holds every role (so that role checks pass and the rules run)."""
    every_role = issue_token(ServiceSettings(service_name="tests"), f"member-{uuid.uuid4().hex[:8]}", list(ROLES))
    return {"anonymous": {}, "every role": {"Authorization": f"Bearer {every_role}"}}


async def test_generated_requests_get_only_documented_answers_and_never_a_server_error(
    service: ServiceProcess,
) -> None:
    async with httpx.AsyncClient(base_url=service.url) as client:
        document: dict[str, Any] = (await client.get("/openapi.json")).raise_for_status().json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=service.url)
    failures: list[str] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"an operation the document describes wrongly: {result.err()}")
            continue
        operation = result.ok()
        for caller, headers in callers().items():
            for mode in GenerationMode:
                try:
                    _exercise(operation, mode, headers)
                except Unsatisfiable:
                    pass  # no invalid request exists for an operation without inputs
                except (Exception, BaseExceptionGroup) as error:  # all collected: one run reports every operation
                    failures.append(f"{operation.label} ({caller}, {mode} inputs):\n{error}")
    assert not failures, "\n\n".join(failures)


def _exercise(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=SEED is None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

    if SEED is not None:
        run = seed(int(SEED))(run)
    run()
