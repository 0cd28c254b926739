"""The FastAPI application every service is built on: lifespan, health, readiness, API documents."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from opensearchpy.exceptions import ConnectionError as SearchConnectionError
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pydantic import BaseModel, Field
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from deh_contracts.vocabulary import IDENTIFIER_PATTERN
from deh_platform.asyncapi import asyncapi_document
from deh_platform.auth import IdentityProviderUnavailable
from deh_platform.edge import EdgeGuard
from deh_platform.errors import Conflict, Forbidden, InvalidInput, NotFound, TooMany
from deh_platform.openapi import install_truthful_openapi
from deh_platform.runtime import ServiceRuntime, StartHook

# A server briefly away (MongoDB restarting, an election, OpenSearch unreachable) is a 503, not a 500.
SERVER_UNAVAILABLE: tuple[type[Exception], ...] = (
    ConnectionFailure,
    SearchConnectionError,
    IdentityProviderUnavailable,
)


def create_service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    on_startup: Sequence[StartHook] = (),
    form_paths: frozenset[str] = frozenset(),
) -> FastAPI:
    """The service's app; `form_paths` take forms instead of JSON (a protocol's, e.g. OAI-PMH)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start(on_startup)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, lifespan=lifespan)
    app.state.runtime = runtime
    app.include_router(_platform_router(title))
    for router in routers:
        app.include_router(router)
    for error, status_code in ((NotFound, 404), (Conflict, 409), (Forbidden, 403)):
        app.add_exception_handler(error, _answer_with(status_code))
    app.add_exception_handler(InvalidInput, _invalid_input)
    app.add_exception_handler(TooMany, _too_many)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    settings = runtime.settings
    app.add_middleware(
        EdgeGuard,
        max_body_bytes=settings.max_body_bytes,
        body_wait_seconds=settings.body_wait_seconds,
        form_paths=form_paths,
    )
    for unavailable in SERVER_UNAVAILABLE:
        app.add_exception_handler(unavailable, _server_unavailable)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
    install_truthful_openapi(app)
    return app


# An id in a request's path: the same character set and length as every id (a 422 otherwise).
ResourceId = Annotated[str, Path(min_length=1, max_length=200, pattern=IDENTIFIER_PATTERN)]


def from_app(name: str) -> Callable[[Request], Any]:
    """A route dependency that gives what the composition root put in `app.state.<name>` (a
    store, an index): `Store = Annotated[PracticeStore, Depends(from_app("store"))]`."""

    def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    return dependency


def _answer_with(status_code: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def answer(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=status_code)

    return answer


async def _too_many(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TooMany)
    headers = {"Retry-After": str(error.retry_after)}
    return JSONResponse({"detail": str(error)}, status_code=429, headers=headers)


async def _invalid_input(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidInput)
    detail = [{"loc": list(error.location), "msg": error.message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's own 422 without the `input` it would echo (up to the whole body)."""
    assert isinstance(error, RequestValidationError)
    detail = [
        {"loc": list(problem["loc"]), "msg": problem["msg"], "type": problem["type"]} for problem in error.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        # Starlette names only the methods of the first route on the path; a path served by
        # several routes (GET and PUT of one resource) allows all of theirs.
        headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
    return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=headers)


def _allowed_methods(request: Request) -> set[str]:
    allowed: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        pattern, _, _ = compile_path(route.path_format or "")
        if route.methods and pattern.match(request.url.path):
            allowed.update(route.methods)
    return allowed


async def _server_unavailable(request: Request, error: Exception) -> JSONResponse:
    # Nothing was acknowledged: the client may retry once the server is back.
    return JSONResponse(
        {"detail": f"a server this service needs is unavailable ({type(error).__name__}); try again shortly"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


class Health(BaseModel):
    status: Literal["ok", "stopped"]
    stopped: list[str] = Field(description="The loops that ended (consumers, the outbox relay, jobs).")


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(
        description="Each server and consumer: 'ok' or what is wrong (OpenSearch is not needed to be "
        "ready by a service whose search is not its purpose: membership)."
    )


def _platform_router(title: str) -> APIRouter:
    router = APIRouter(tags=["platform"])

    @router.get(
        "/healthz",
        summary="The process and every loop it runs are alive (servers may be away: see /readyz)",
        responses={503: {"model": Health, "description": "A loop ended: restart the process."}},
        response_model=Health,
    )
    async def healthz(request: Request) -> JSONResponse:
        runtime: ServiceRuntime = request.app.state.runtime
        if stopped := runtime.stopped():
            return JSONResponse({"status": "stopped", "stopped": stopped}, status_code=503)
        return JSONResponse({"status": "ok", "stopped": []})

    @router.get(
        "/readyz",
        summary="Every server answers and every consumer is a live group member",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready: the checks say which part is not."}},
    )
    async def readyz(request: Request) -> JSONResponse:
        runtime: ServiceRuntime = request.app.state.runtime
        checks = await runtime.readiness()
        ready = runtime.ready(checks)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    @router.get("/asyncapi.json", summary="The AsyncAPI 3.0 document of this service's Kafka messages")
    async def asyncapi(request: Request) -> dict[str, Any]:
        return asyncapi_document(request.app.state.runtime, title)

    return router
