"""gc: deletes the pods that finished Argo workflows left behind, by a policy in the event.

Triggered by Knative PingSources on a schedule, each carrying one policy as its data;
answers with the run's JSON summary. See argoml.gc for the policy and the safety rules.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "vendor"))

import flask
import functions_framework

from argoml import events, gc
from argoml.gc import senders
from argoml.http import entry_point, json_response

SENDERS = senders.SenderPolicy.from_env()


@functions_framework.http
@entry_point("gc")
def handle(request: flask.Request) -> flask.Response:
    senders.check_sender(request.headers.get("Authorization"), SENDERS)
    event = events.parse_ping_event(request.headers, request.get_data())
    return json_response(gc.run(event, os.environ))
