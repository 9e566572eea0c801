"""One way to reach the Kubernetes API: in-cluster config, else ``KUBECONFIG``/``~/.kube/config``.

The ``kubernetes`` package costs about 0.2 s to import, which would be paid on every
cold start; it is imported on first use instead, and the client is built once per
process (per kubeconfig, so tests that point ``KUBECONFIG`` elsewhere get a new one).
API failures are translated here into argoml's error types so that callers decide
on HTTP statuses without knowing the client's exception classes.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from argoml.errors import UpstreamError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
T = TypeVar("T")


_acting_as: contextvars.ContextVar[str] = contextvars.ContextVar("argoml_function", default="cli")


@contextlib.contextmanager
def acting_as(function: str) -> Iterator[None]:
    """Within this block, API requests carry the User-Agent ``argoml-<function>/<version>``."""
    token = _acting_as.set(function)
    try:
        yield
    finally:
        _acting_as.reset(token)


def api_client() -> ApiClient:
    """The process-wide API client for the current configuration (and acting function)."""
    source = "in-cluster" if os.environ.get(IN_CLUSTER_ENV) else os.environ.get("KUBECONFIG", "~/.kube/config")
    return _client(source, _acting_as.get())


@functools.lru_cache(maxsize=32)
def _client(source: str, function: str) -> ApiClient:
    from kubernetes import client, config

    from argoml import __version__

    configuration = client.Configuration()
    if source == "in-cluster":
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(config_file=os.path.expanduser(source.split(os.pathsep)[0]),
                                client_configuration=configuration)
    api = client.ApiClient(configuration)
    api.user_agent = f"argoml-{function}/{__version__}"
    return api


def core() -> Any:
    from kubernetes.client import CoreV1Api

    return CoreV1Api(api_client())


def custom() -> Any:
    from kubernetes.client import CustomObjectsApi

    return CustomObjectsApi(api_client())


def apps() -> Any:
    from kubernetes.client import AppsV1Api

    return AppsV1Api(api_client())


def auth_v1() -> Any:
    """TokenReview: who a bearer token belongs to."""
    from kubernetes.client import AuthenticationV1Api

    return AuthenticationV1Api(api_client())


def authz_v1() -> Any:
    """SubjectAccessReview: whether a user may do something."""
    from kubernetes.client import AuthorizationV1Api

    return AuthorizationV1Api(api_client())


def to_dict(model: Any) -> dict[str, Any]:
    """A typed client model (V1Deployment ...) as the plain dict the API server sent."""
    return api_client().sanitize_for_serialization(model)


class ApiFailure:
    """What the API server said when a call failed: status code, reason and message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status, self.reason, self.message = status, reason, message


def failure_of(exc: BaseException) -> ApiFailure | None:
    """Read an ``ApiException`` into an :class:`ApiFailure`; ``None`` for anything else."""
    from kubernetes.client.exceptions import ApiException

    if not isinstance(exc, ApiException):
        return None
    reason, message = exc.reason or "", str(exc.reason or "")
    with contextlib.suppress(TypeError, ValueError):
        body = json.loads(exc.body or "")
        reason = body.get("reason") or reason
        message = body.get("message") or message
    return ApiFailure(int(exc.status or 0), reason, message)


def is_not_found(exc: BaseException) -> bool:
    failure = failure_of(exc)
    return failure is not None and failure.status == 404


def is_conflict(exc: BaseException) -> bool:
    failure = failure_of(exc)
    return failure is not None and failure.status == 409


@contextlib.contextmanager
def upstream(action: str) -> Iterator[None]:
    """Turn an API or connection failure during ``action`` into :class:`UpstreamError`.

    Errors the caller handles itself (a 404 it expects, say) must be caught inside.
    """
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as exc:
        failure = failure_of(exc)
        assert failure is not None
        raise UpstreamError(f"{action}: the Kubernetes API answered {failure.status} "
                            f"{failure.reason}: {failure.message}") from exc
    except (HTTPError, OSError) as exc:
        raise UpstreamError(f"{action}: the Kubernetes API is unreachable: {exc}") from exc


def read_or_none(action: str, read: Callable[[], T]) -> T | None:
    """``read()`` under :func:`upstream`, with ``None`` for an object the API server does not have."""
    with upstream(action):
        try:
            return read()
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
