"""One exception type per kind of failure, mapped to an HTTP status in one place.

Knative's delivery retries 5xx, 404, 408, 409 and 429 answers and treats every other
4xx as final, so permanent problems are 400/422 and passing ones (the API server is
down, a write conflicted) are 5xx. The statuses here are chosen with that in mind.
"""

from __future__ import annotations


class ArgomlError(Exception):
    """Base of every error argoml turns into an HTTP answer; a subclass names its status in its header."""

    status: int = 500

    def __init_subclass__(cls, status: int | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status

    def __init__(self, message: str, *, details: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(ArgomlError, status=400):
    """The caller sent something malformed: a broken event, request or policy."""


class Unauthenticated(ArgomlError, status=401):
    """The caller did not say who they are, or the cluster does not know the credentials."""


class Forbidden(ArgomlError, status=403):
    """The caller is known but may not do this (RBAC says no, or a policy of the function's)."""


class NotFound(ArgomlError, status=404):
    """A thing the caller named does not exist (only for synchronous HTTP callers)."""


class Conflict(ArgomlError, status=409):
    """The name the caller's request needs belongs to something else (only for synchronous HTTP callers)."""


class Unprocessable(ArgomlError, status=422):
    """Well-formed, but cannot be acted on: retrying will not help."""


class PayloadTooLarge(ArgomlError, status=413):
    """The request's body is larger than this endpoint takes."""


class BadGateway(ArgomlError, status=502):
    """A server this function forwards to (a TensorBoard instance) did not answer properly."""


class UpstreamError(ArgomlError, status=503):
    """The Kubernetes API failed or was unreachable; a retry may succeed."""
