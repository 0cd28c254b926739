"""The OpenAPI document says every status an operation answers, and who may call it.

Most error statuses follow from how a route is declared, so they are documented from that, once
for every service: every operation 408, 413 and 415 (the edge checks any body, deh_platform.edge), a
token 401, a role check 403, a path parameter 404, a body or any parameter 422, and every
operation that reaches a server 503. What only a
rule decides (a 403 of an ownership check, a 409 of a state change) the route declares itself
with `responses=errors(403, 409)`. A route open to the public that reads a token when one is
given is documented with optional security (`[{}, {"HTTPBearer": []}]`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field

from deh_platform.auth import current_principal, optional_principal


class ErrorBody(BaseModel):
    """Every error but 422: a sentence for people, never an echo of the input."""

    detail: str = Field(description="What went wrong, for people.")


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description="Where: 'body', 'query', 'path' or 'header', then the field's path.")
    msg: str
    type: str


class InvalidInputBody(BaseModel):
    """422: each problem with the field it is in; the input itself is never repeated."""

    detail: list[FieldProblem]


MEANINGS = {
    401: "No bearer token, or one that is invalid or expired.",
    403: "The caller's roles or relation to the resource do not allow this.",
    404: "No such resource, or one the caller may not see.",
    408: "The body did not arrive in time (a part of it took longer than the limit, 10 s by default).",
    409: "The request clashes with the resource's current state.",
    413: "The body is larger than the service accepts (the limit is a setting, 1 MiB by default).",
    415: "The body is not JSON (Content-Type must be application/json).",
    422: "Invalid input; `detail` names each field.",
    429: "The caller did this too often for now; retry after Retry-After seconds.",
    503: "A server the service needs is away for a moment; nothing was done; retry after Retry-After seconds.",
}
PLATFORM_TAG = "platform"


def install_truthful_openapi(app: FastAPI) -> None:
    """Document each route's statuses and security when the document is first asked for."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for model in (ErrorBody, FieldProblem, InvalidInputBody):
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schema.pop("$defs", None)  # FieldProblem is a component of its own
                schemas[model.__name__] = schema
            for context in iter_route_contexts(app.routes):
                route = context.original_route
                if isinstance(route, APIRoute) and route.include_in_schema:
                    for method in context.methods or ():
                        _document(route, document["paths"][context.path_format][method.lower()])
            if '"#/components/schemas/HTTPValidationError"' not in json.dumps(document["paths"]):
                schemas.pop("HTTPValidationError", None)  # FastAPI's own, replaced by InvalidInputBody
                schemas.pop("ValidationError", None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document(route: APIRoute, operation: dict[str, Any]) -> None:
    calls = dependency_calls(route)
    if optional_principal in calls and current_principal not in calls:
        operation["security"] = [{}, *operation.get("security", [])]  # public; a token is read when given
    responses = operation.setdefault("responses", {})
    for status in sorted(_statuses(route, calls)):
        responses.setdefault(str(status), _response(status))
    if "422" in responses:  # FastAPI's own 422 says it echoes the input; ours never does
        responses["422"] = _response(422)


def _statuses(route: APIRoute, calls: set[Any]) -> set[int]:
    statuses = {408, 413, 415}  # the edge checks every request's body, whether the operation takes one or not
    if current_principal in calls or optional_principal in calls:
        statuses.add(401)  # an invalid token is refused even where a token is optional
    # See deh_platform.auth.requires and members_only.
    if any(hasattr(call, "checks_roles") or hasattr(call, "refuses_inactive_members") for call in calls):
        statuses.add(403)
    if route.dependant.path_params:
        statuses.add(404)
    if route.body_field is not None:
        statuses.add(422)
    if route.dependant.query_params or route.dependant.header_params or route.dependant.path_params:
        statuses.add(422)
    if PLATFORM_TAG not in route.tags:
        statuses.add(503)
    return statuses


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the statuses a route's rules decide (403 of an ownership check, 409)."""
    return {status: {"model": ErrorBody, "description": MEANINGS[status]} for status in statuses}


def _response(status: int) -> dict[str, Any]:
    model = InvalidInputBody if status == 422 else ErrorBody
    return {
        "description": MEANINGS[status],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
    }


def dependency_calls(route: APIRoute) -> set[Any]:
    """Every dependency a route resolves, however deep (the token check, a role check...)."""
    return set(_calls(route.dependant))


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)
