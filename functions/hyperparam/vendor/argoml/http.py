"""The HTTP edge shared by the four functions: JSON answers, error mapping, health.

Every function's ``handle`` is wrapped by :func:`entry_point`, which answers the
readiness probe on ``GET /healthz``, turns :class:`~argoml.errors.ArgomlError` into a
JSON body ``{"error": {"status": ..., "message": ..., "details": ...}}`` with that status, and turns
anything unexpected into a logged 500 whose body carries no stack trace.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable
from typing import Any

import flask

from argoml import kube
from argoml.errors import ArgomlError

log = logging.getLogger("argoml")

Handler = Callable[[flask.Request], flask.Response]


def json_response(payload: Any, status: int = 200) -> flask.Response:
    return flask.Response(json.dumps(payload, indent=None, sort_keys=False) + "\n", status=status,
                          mimetype="application/json")


def error_response(status: int, message: str, details: object | None = None) -> flask.Response:
    """``{"error": {"status", "message"}}``, with ``details`` (per-field problems, say) when there are any."""
    error: dict[str, Any] = {"status": status, "message": message}
    if details is not None:
        error["details"] = details
    return json_response({"error": error}, status)


def entry_point(function: str) -> Callable[[Handler], Handler]:
    """Wrap the request handler of ``function`` with health, logging and error mapping.

    While it handles a request, the Kubernetes client identifies itself as
    ``argoml-<function>`` (see :func:`argoml.kube.acting_as`), so API audit logs and
    the RBAC tests can tell the functions apart.
    """
    configure_logging()

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def handle(request: flask.Request) -> flask.Response:
            if request.method == "GET" and request.path == "/healthz":
                return json_response({"status": "ok"})
            with kube.acting_as(function):
                return _answer(handler, request)

        return handle

    return decorate


def _answer(handler: Handler, request: flask.Request) -> flask.Response:
    try:
        return handler(request)
    except ArgomlError as exc:
        log.log(logging.ERROR if exc.status >= 500 else logging.WARNING, "%s %s -> %d: %s",
                request.method, request.path, exc.status, exc.message)
        return error_response(exc.status, exc.message, exc.details)
    except Exception as exc:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, f"internal error ({type(exc).__name__}); see the function's log")


@functools.cache
def configure_logging() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
