"""validate: the validating and mutating admission webhook for Argo resources (see argoml.validation.admission)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "vendor"))

import flask
import functions_framework

from argoml.errors import NotFound
from argoml.http import entry_point, json_response
from argoml.validation import admission

CALLERS = admission.CallerPolicy.from_env()
ROUTES = {"/validate": admission.validate, "/validate/warn": admission.warn, "/mutate": admission.mutate}


@functions_framework.http
@entry_point("validate")
def handle(request: flask.Request) -> flask.Response:
    decide = ROUTES.get(request.path)
    if request.method != "POST" or decide is None:
        raise NotFound(f"no route for {request.method} {request.path}; POST an AdmissionReview to /validate, "
                       "/validate/warn or /mutate")
    CALLERS.check(request.headers.get("Authorization"))
    review = admission.parse_review(request.get_data())
    return json_response(admission.answer(review, decide(review)))
