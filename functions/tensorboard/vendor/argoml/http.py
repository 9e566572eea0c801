"""The HTTP edge shared by the four functions: JSON answers, error mapping, health.

Every function's ``handle`` is wrapped by :func:`entry_point`, which answers the
readiness probe on ``GET /healthz``, turns :class:`~argoml.errors.ArgomlError` into a
JSON body ``{"error": {"status": ..., "message": ...}}`` with that status, and turns
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

from argoml.errors import ArgomlError

log = logging.getLogger("argoml")

Handler = Callable[[flask.Request], flask.Response]


def json_response(payload: Any, status: int = 200) -> flask.Response:
    return flask.Response(json.dumps(payload, indent=None, sort_keys=False) + "\n", status=status,
                          mimetype="application/json")


def error_response(status: int, message: str) -> flask.Response:
    return json_response({"error": {"status": status, "message": message}}, status)


def entry_point(handler: Handler) -> Handler:
    """Wrap a function's request handler with health, logging and error mapping."""
    configure_logging()

    @functools.wraps(handler)
    def handle(request: flask.Request) -> flask.Response:
        if request.method == "GET" and request.path == "/healthz":
            return json_response({"status": "ok"})
        try:
            return handler(request)
        except ArgomlError as exc:
            log.log(logging.ERROR if exc.status >= 500 else logging.WARNING, "%s %s -> %d: %s",
                    request.method, request.path, exc.status, exc.message)
            return error_response(exc.status, exc.message)
        except Exception as exc:
            log.exception("%s %s failed", request.method, request.path)
            return error_response(500, f"internal error ({type(exc).__name__}); see the function's log")

    return handle


@functools.cache
def configure_logging() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
