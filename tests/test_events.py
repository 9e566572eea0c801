"""Parsing of the CloudEvents Knative's ApiServerSource and PingSource send."""

from __future__ import annotations

import base64
import contextlib
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from argoml import events
from argoml.dev import knative
from argoml.errors import InvalidInput

HPW = {"apiVersion": "argoml.io/v1alpha1", "kind": "HyperparamWorkflow",
       "metadata": {"name": "sweep", "namespace": "ml", "uid": "u-1"}, "spec": {"entrypoint": "main"}}


@pytest.mark.parametrize("action", ["add", "update", "delete"])
def test_resource_mode_events_carry_the_whole_object(action: str) -> None:
    headers, body = knative.resource_event(action, HPW)
    event = events.parse(headers, body)
    assert isinstance(event, events.ResourceEvent)
    assert event.action == events.Action(action)
    assert event.ref == events.ObjectRef("argoml.io/v1alpha1", "HyperparamWorkflow", "sweep", "ml")
    assert event.obj == HPW
    assert not event.reference_mode
    assert event.ref.group == "argoml.io" and event.ref.version == "v1alpha1"


@pytest.mark.parametrize("action", ["add", "update", "delete"])
def test_reference_mode_events_carry_only_the_reference(action: str) -> None:
    headers, body = knative.resource_event(action, HPW, mode="Reference")
    event = events.parse(headers, body)
    assert isinstance(event, events.ResourceEvent)
    assert event.action == events.Action(action) and event.reference_mode and event.obj is None
    assert event.ref.name == "sweep" and event.ref.namespace == "ml"


def test_knative_headers_are_binary_mode_with_source_extensions() -> None:
    headers, body = knative.resource_event("add", HPW, event_id="abc")
    assert headers["ce-type"] == "dev.knative.apiserver.resource.add"
    assert headers["ce-subject"] == "/apis/argoml.io/v1alpha1/namespaces/ml/hyperparamworkflows/sweep"
    assert headers["ce-id"] == "abc" and headers["ce-specversion"] == "1.0"
    assert (headers["ce-kind"], headers["ce-name"], headers["ce-namespace"]) == ("HyperparamWorkflow", "sweep", "ml")
    assert headers["content-type"] == "application/json" and json.loads(body) == HPW


def test_core_resources_have_no_group() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}}
    headers, body = knative.resource_event("delete", pod)
    assert headers["ce-subject"] == "/apis/v1/namespaces/ns/pods/p"
    assert events.parse(headers, body).ref.group == ""


def test_ping_event_carries_its_json_data() -> None:
    headers, body = knative.ping_event({"maxAgeHours": 24}, namespace="ml", name="nightly")
    event = events.parse_ping_event(headers, body)
    assert event.data == {"maxAgeHours": 24}
    assert event.source == "/apis/v1/namespaces/ml/pingsources/nightly"
    assert event.time


def test_ping_event_without_data_has_none() -> None:
    headers, body = knative.ping_event(b"")
    assert events.parse_ping_event(headers, body).data is None


def test_structured_mode_is_read_too() -> None:
    envelope = {"specversion": "1.0", "id": "1", "source": "/apis/v1/namespaces/a/pingsources/b",
                "type": "dev.knative.sources.ping", "datacontenttype": "application/json",
                "data_base64": base64.b64encode(b'{"dryRun": true}').decode()}
    event = events.parse({"content-type": "application/cloudevents+json"}, json.dumps(envelope).encode())
    assert isinstance(event, events.PingEvent) and event.data == {"dryRun": True}


MALFORMED = {
    "no CloudEvent headers": ({"content-type": "application/json"}, b"{}", "not a CloudEvent"),
    "structured JSON list": ({"content-type": "application/cloudevents+json"}, b"[1, 2]", "not a CloudEvent"),
    "structured JSON string": ({"content-type": "application/cloudevents+json"}, b'"x"', "not a CloudEvent"),
    "undecodable bytes": ({"content-type": "application/cloudevents+json"}, b"\xff\xfe", "not a CloudEvent"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_requests_are_invalid_input(name: str) -> None:
    headers, body, message = MALFORMED[name]
    with pytest.raises(InvalidInput, match=message):
        events.parse(headers, body)


def _with(headers: dict[str, str], **changes: str) -> dict[str, str]:
    return {**headers, **{key.replace("_", "-"): value for key, value in changes.items()}}


def test_unknown_event_type_is_named() -> None:
    headers, body = knative.resource_event("add", HPW)
    with pytest.raises(InvalidInput, match=re.escape("unexpected event type 'com.example.other'")):
        events.parse(_with(headers, ce_type="com.example.other"), body)


def test_unknown_action_is_named() -> None:
    headers, body = knative.resource_event("add", HPW)
    with pytest.raises(InvalidInput, match=re.escape("dev.knative.apiserver.resource.patch")):
        events.parse(_with(headers, ce_type="dev.knative.apiserver.resource.patch"), body)


def test_data_that_is_not_json_is_named() -> None:
    headers, _ = knative.resource_event("add", HPW)
    with pytest.raises(InvalidInput, match="is not JSON"):
        events.parse(headers, b"{not json")


@pytest.mark.parametrize(("data", "message"), [
    ([1, 2], "data: expected the changed Kubernetes object, got an array"),
    ({"apiVersion": "v1", "kind": "Pod"}, "data.metadata: missing"),
    ({"apiVersion": "v1", "kind": "Pod", "metadata": {}}, "data.metadata.name: missing"),
    ({"kind": "Pod", "metadata": {"name": "p"}}, "data.apiVersion: missing"),
    ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": 3}}, "data.metadata.namespace"),
])
def test_resource_data_problems_name_the_field(data: object, message: str) -> None:
    headers, _ = knative.resource_event("add", HPW)
    with pytest.raises(InvalidInput, match=re.escape(message)):
        events.parse(headers, json.dumps(data).encode())


def test_reference_without_kind_is_named() -> None:
    headers, _ = knative.resource_event("add", HPW, mode="Reference")
    with pytest.raises(InvalidInput, match=re.escape("data.kind: missing")):
        events.parse(headers, json.dumps({"apiVersion": "v1", "name": "x"}).encode())


def test_ping_with_invalid_json_data_is_named() -> None:
    headers, _ = knative.ping_event({})
    with pytest.raises(InvalidInput, match=re.escape("dev.knative.sources.ping event is not JSON")):
        events.parse(headers, b"{nope")


def test_each_function_kind_rejects_the_other_kind_of_event() -> None:
    with pytest.raises(InvalidInput, match="expected a PingSource event"):
        events.parse_ping_event(*knative.resource_event("add", HPW))
    with pytest.raises(InvalidInput, match="expected an ApiServerSource event"):
        events.parse_resource_event(*knative.ping_event({}))


# --- properties: whatever arrives is an event or InvalidInput (a 400), never anything else -------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(max_size=10),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                                       max_size=4),
                    max_leaves=20)
# Bodies near what is valid: JSON texts, then the same with bytes damaged, cut or nested deeper.
NUMBERS = st.sampled_from([b"1e400", b"-1e400", b"9" * 400, b"NaN", b"Infinity", b"1e308", b"0.1"])
BODIES = st.one_of(
    JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.tuples(JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=4), st.integers(0, 64)).map(
        lambda t: t[0][:t[2]] + t[1] + t[0][t[2]:]),
    st.integers(1, 2_000).map(lambda n: b'{"a":' + b"[" * n + b"]" * n + b"}"),
    NUMBERS.map(lambda n: b'{"maxAgeHours": ' + n + b"}"),
)


def _outcome(headers: dict[str, str], body: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        events.parse(headers, body)


@pytest.mark.fuzz
@given(data=BODIES, kind=st.sampled_from(["ping", "resource"]))
def test_any_binary_mode_data_is_an_event_or_invalid_input(data: bytes, kind: str) -> None:
    headers, _ = knative.ping_event({}) if kind == "ping" else knative.resource_event("add", HPW)
    _outcome(headers, data)


@pytest.mark.fuzz
@given(data=BODIES, attributes=st.dictionaries(st.sampled_from(["specversion", "id", "source", "type", "time",
                                                                 "datacontenttype"]), JSON, max_size=6))
def test_any_structured_mode_body_is_an_event_or_invalid_input(data: bytes, attributes: dict[str, object]) -> None:
    envelope = {"specversion": "1.0", "id": "1", "source": "/s", "type": events.PING_TYPE, **attributes}
    body = json.dumps({**envelope, "data": "DATA"}).encode().replace(b'"DATA"', data)
    _outcome({"content-type": "application/cloudevents+json"}, body)
    _outcome({"content-type": "application/cloudevents+json"}, data)
