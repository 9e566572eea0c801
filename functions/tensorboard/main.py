"""tensorboard: spawn, list and stop TensorBoard for a workflow's artifacts (see argoml.tensorboard).

PUT/GET/DELETE /tensorboards/<namespace>/<workflow> · GET /tensorboards/<namespace> · GET / (page)
"""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "vendor"))

import flask
import functions_framework

from argoml.errors import NotFound
from argoml.http import entry_point, json_response
from argoml.tensorboard import access, instances

SETTINGS = instances.Settings.from_env()
POLICY = access.AccessPolicy.from_env()

ROUTES = [
    ("PUT", re.compile(r"^/tensorboards/([^/]+)/([^/]+)/?$"), instances.ensure),
    ("GET", re.compile(r"^/tensorboards/([^/]+)/([^/]+)/?$"), instances.get),
    ("DELETE", re.compile(r"^/tensorboards/([^/]+)/([^/]+)/?$"), instances.delete),
    ("GET", re.compile(r"^/tensorboards/([^/]+)/?$"), instances.listing),
]


@functions_framework.http
@entry_point("tensorboard")
def handle(request: flask.Request) -> flask.Response:
    if request.method == "GET" and request.path == "/":
        return flask.Response(instances.page(), mimetype="text/html", headers=instances.PAGE_HEADERS)
    for method, pattern, action in ROUTES:
        if request.method == method and (match := pattern.match(request.path)):
            namespace = instances.check_namespace(match[1])
            access.authorize(request.headers.get("Authorization"), namespace, POLICY)
            result = action(*match.groups(), SETTINGS)
            return json_response(result if isinstance(result, dict) else result.to_json())
    raise NotFound(f"no route for {request.method} {request.path}")
