"""tensorboard: spawn, list, open (through an authenticating proxy) and stop TensorBoards for workflows.

The routes, who may use them and the proxy are argoml.tensorboard.routes; this is the entry point.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "vendor"))

import flask
import functions_framework

from argoml.http import entry_point
from argoml.tensorboard.routes import Server

SERVER = Server.from_env()


@functions_framework.http
@entry_point("tensorboard")
def handle(request: flask.Request) -> flask.Response:
    return SERVER.handle(request)
