"""One exception type per kind of failure, mapped to an HTTP status in one place.

Knative's delivery retries 5xx, 404, 408, 409 and 429 answers and treats every other
4xx as final, so permanent problems are 400/422 and passing ones (the API server is
down, a write conflicted) are 5xx. The statuses here are chosen with that in mind.
"""

from __future__ import annotations


class ArgomlError(Exception):
    """Base of every error argoml turns into an HTTP answer."""

    status: int = 500

    def __init__(self, message: str, *, details: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(ArgomlError):
    """The caller sent something malformed: a broken event, request or policy."""

    status = 400


class Unauthenticated(ArgomlError):
    status = 401


class Forbidden(ArgomlError):
    status = 403


class NotFound(ArgomlError):
    """A thing the caller named does not exist (only for synchronous HTTP callers)."""

    status = 404


class Conflict(ArgomlError):
    """The name the caller's request needs belongs to something else (only for synchronous HTTP callers)."""

    status = 409


class Unprocessable(ArgomlError):
    """Well-formed, but cannot be acted on: retrying will not help."""

    status = 422


class UpstreamError(ArgomlError):
    """The Kubernetes API failed or was unreachable; a retry may succeed."""

    status = 503
