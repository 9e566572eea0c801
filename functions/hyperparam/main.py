"""hyperparam: turns a HyperparamWorkflow into an Argo Workflow that runs every trial.

Triggered by Knative ApiServerSource events about HyperparamWorkflows and about the
Workflows generated from them (see argoml.hyperparam.reconcile for what each event does),
and by a PingSource whose ticks reconcile every sweep (argoml.hyperparam.resync).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "vendor"))

import flask
import functions_framework

from argoml import events
from argoml.http import entry_point, json_response
from argoml.hyperparam import reconcile, resync


@functions_framework.http
@entry_point("hyperparam")
def handle(request: flask.Request) -> flask.Response:
    event = events.parse(request.headers, request.get_data())
    if isinstance(event, events.PingEvent):  # the periodic resync: every sweep, as if each had an event
        return json_response(resync.run(event).to_json(event.id))
    return json_response(reconcile.handle(event).to_json(event.id))
