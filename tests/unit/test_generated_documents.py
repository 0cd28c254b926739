"""The committed API documents of every service match what the code generates."""

from __future__ import annotations

from pathlib import Path

import pytest

from deh_platform.apidocs import stale
from deh_stack.config import SERVICE_NAMES

pytestmark = pytest.mark.unit

SERVICES_ROOT = Path(__file__).resolve().parents[2] / "services"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_openapi_and_asyncapi_documents_are_up_to_date(service: str) -> None:
    assert stale(SERVICES_ROOT, service) == [], "run: uv run python -m deh_platform.apidocs"
