"""Errors a service's rules raise; the HTTP layer maps them to status codes (no I/O here). And
the one a consumer's handler raises when trying again later may succeed."""


class NotFound(Exception):
    """The thing named does not exist (HTTP 404)."""


class Conflict(Exception):
    """The request clashes with the current state: a wrong status, a duplicate, a full squad (HTTP 409)."""


class Forbidden(Exception):
    """The caller may not do this to this thing (HTTP 403)."""


class TooMany(Exception):
    """The caller did this too often for now (HTTP 429, with Retry-After in seconds)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidInput(Exception):
    """A well-formed request that names something invalid, e.g. an unknown organisation (HTTP 422,
    with the same field-level shape as FastAPI's validation errors)."""

    def __init__(self, location: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.location = location
        self.message = message


class TransientError(Exception):
    """Trying again later may succeed (a consumer holds the partition instead of dead-lettering)."""


class NotYetKnown(TransientError):
    """The message names something whose news is on its way on another topic (topics are read in
    no order relative to each other): the message waits, and the service stays ready."""
