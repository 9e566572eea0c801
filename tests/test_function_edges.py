"""What every function does at its HTTP edge: health, malformed input, errors, identity."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import flask.testing
import functions_framework
import pytest

from argoml.dev import FUNCTIONS
from argoml.dev.emulator import Emulator
from argoml.dev.knative import ping_event, resource_event

Serve = Callable[[str], flask.testing.FlaskClient]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_answers_its_readiness_probe(serve: Serve, name: str) -> None:
    response = serve(name).get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("name", ["hyperparam", "gc"])
@pytest.mark.parametrize(("headers", "body", "message"), [
    ({"content-type": "application/json"}, b"{}", "not a CloudEvent"),
    ({"content-type": "application/cloudevents+json"}, b"[1, 2]", "not a CloudEvent"),
    ({"content-type": "application/cloudevents+json"}, b"\xff\xfe", "not a CloudEvent"),
])
def test_event_functions_answer_malformed_events_with_400(serve: Serve, name: str, headers: dict[str, str],
                                                          body: bytes, message: str) -> None:
    response = serve(name).post("/", headers=headers, data=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["status"] == 400 and message in error["message"] and "Traceback" not in response.text


def test_hyperparam_takes_a_ping_as_its_resync_and_gc_refuses_a_resource_event(serve: Serve) -> None:
    headers, body = ping_event({})
    assert serve("hyperparam").post("/", headers=headers, data=body).get_json()["result"] == "resynced"
    headers, body = resource_event("add", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})
    assert "expected a PingSource event" in serve("gc").post("/", headers=headers, data=body).text


def _function(tmp_path: Path, body: str) -> flask.testing.FlaskClient:
    source = tmp_path / "main.py"
    source.write_text(textwrap.dedent('''
        import functions_framework
        from argoml import errors, kube
        from argoml.http import entry_point, json_response

        @functions_framework.http
        @entry_point("probe")
        def handle(request):
    ''') + textwrap.indent(textwrap.dedent(body), "    "))
    return functions_framework.create_app(target="handle", source=str(source)).test_client()


def test_unexpected_failures_are_a_500_without_a_stack_trace(tmp_path: Path) -> None:
    client = _function(tmp_path, "raise KeyError('secret detail')")
    response = client.post("/")
    assert response.status_code == 500
    assert response.get_json()["error"]["message"] == "internal error (KeyError); see the function's log"
    assert "secret detail" not in response.text


def test_an_errors_details_reach_the_caller(tmp_path: Path) -> None:
    client = _function(tmp_path, "raise errors.Unprocessable('two problems', details=[{'path': 'spec.a'}])")
    response = client.post("/")
    assert response.get_json() == {"error": {"status": 422, "message": "two problems",
                                             "details": [{"path": "spec.a"}]}}


@pytest.mark.parametrize(("error", "status"), [
    ("InvalidInput", 400), ("Unauthenticated", 401), ("Forbidden", 403), ("NotFound", 404),
    ("Unprocessable", 422), ("UpstreamError", 503)])
def test_error_types_map_to_statuses(tmp_path: Path, error: str, status: int) -> None:
    client = _function(tmp_path, f"raise errors.{error}('the reason')")
    response = client.post("/")
    assert response.status_code == status
    assert response.get_json() == {"error": {"status": status, "message": "the reason"}}


def test_api_failures_become_503_and_requests_carry_the_function_name(cluster: Emulator, tmp_path: Path) -> None:
    client = _function(tmp_path, '''
        kube.get_or_none(kube.PODS, "ml", "p")
        return json_response({})
    ''')
    assert client.post("/").status_code == 200
    cluster.fail(500, method="GET", resource="pods")
    response = client.post("/")
    assert response.status_code == 503
    assert response.get_json()["error"]["message"].startswith("reading pods ml/p: the Kubernetes API answered 500")
    assert {call.agent for call in cluster.calls} == {"argoml-probe"}


def test_an_unreachable_api_server_is_a_503(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from argoml.dev.runner import free_port

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""
apiVersion: v1
kind: Config
current-context: gone
clusters: [{{name: gone, cluster: {{server: "http://127.0.0.1:{free_port()}"}}}}]
users: [{{name: gone, user: {{token: x}}}}]
contexts: [{{name: gone, context: {{cluster: gone, user: gone}}}}]
""")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    client = _function(tmp_path, '''
        kube.get(kube.PODS, "ml", "p", timeout=2)
    ''')
    response = client.post("/")
    assert response.status_code == 503 and "unreachable" in response.get_json()["error"]["message"]


MALFORMED_JSON = [
    pytest.param(b"\xff\xfe{}", "is not UTF-8", id="not UTF-8"),
    pytest.param(b"[" * 3_000 + b"]" * 3_000, "nested more than 100 levels deep", id="3,000 deep"),
    pytest.param(b'{"maxAgeHours": 1e400}', "beyond the range", id="float beyond float64"),
    pytest.param(b'{"maxAgeHours": ' + b"1" * 400 + b"}", "beyond the range", id="integer beyond float64"),
]


def _event_with_data(name: str, data: bytes) -> tuple[dict[str, str], bytes]:
    if name == "gc":
        return ping_event(data)
    headers, _ = resource_event("update", {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                                           "metadata": {"name": "w", "namespace": "ml"}})
    return headers, data


@pytest.mark.parametrize("name", ["hyperparam", "gc"])
@pytest.mark.parametrize(("data", "message"), MALFORMED_JSON)
def test_event_data_that_is_malformed_json_is_a_400_in_binary_mode(serve: Serve, name: str, data: bytes,
                                                                   message: str) -> None:
    response = serve(name).post("/", headers=_event_with_data(name, data)[0], data=data)
    assert response.status_code == 400 and message in response.get_json()["error"]["message"]


@pytest.mark.parametrize("name", ["hyperparam", "gc"])
@pytest.mark.parametrize(("data", "message"), MALFORMED_JSON)
def test_event_data_that_is_malformed_json_is_a_400_in_structured_mode(serve: Serve, name: str, data: bytes,
                                                                       message: str) -> None:
    headers, _ = _event_with_data(name, b"{}")
    envelope = json.dumps({key.removeprefix("ce-"): value for key, value in headers.items()
                           if key.startswith("ce-")} | {"data": "DATA"}).encode().replace(b'"DATA"', data)
    response = serve(name).post("/", headers={"content-type": "application/cloudevents+json"}, data=envelope)
    assert response.status_code == 400 and message in response.get_json()["error"]["message"]
