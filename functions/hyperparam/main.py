"""hyperparam: turns a HyperparamWorkflow into an Argo Workflow that runs every trial.

Triggered by Knative ApiServerSource events about HyperparamWorkflows and about the
Workflows generated from them; see argoml.hyperparam.reconcile for what each event does.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "vendor"))

import flask
import functions_framework

from argoml import events
from argoml.http import entry_point, json_response
from argoml.hyperparam import reconcile


@functions_framework.http
@entry_point("hyperparam")
def handle(request: flask.Request) -> flask.Response:
    event = events.parse_resource_event(request.headers, request.get_data())
    return json_response(reconcile.handle(event).to_json(event.id))
