"""validate: see argoml.validate."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "vendor"))

import flask
import functions_framework

from argoml.errors import NotFound
from argoml.http import entry_point


@functions_framework.http
@entry_point("validate")
def handle(request: flask.Request) -> flask.Response:
    raise NotFound(f"no route for {request.method} {request.path}")
