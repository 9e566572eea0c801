"""The local stand-ins for Knative: delivery with retries, the ApiServerSource bridge, the ticker."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from argoml import argo, events
from argoml.dev import runner
from argoml.dev.bridge import Bridge, WatchedResource
from argoml.dev.delivery import deliver
from argoml.dev.emulator import Emulator
from argoml.dev.knative import ping_event
from argoml.dev.ticker import Ticker
from argoml.hyperparam.workflow import HYPERPARAM_WORKFLOWS
from tests.sinks import Sink, recording_sink


@pytest.fixture
def sink() -> Iterator[Sink]:
    with recording_sink() as recording:
        yield recording


@pytest.mark.parametrize(("answers", "attempts", "final"), [
    ([503, 200], 2, 200),
    ([404, 409, 429, 200], 4, 200),
    ([400], 1, 400),
    ([422], 1, 422),
    ([500, 500, 500, 500, 500], 4, 500),
])
def test_delivery_retries_as_knative_does(sink: Sink, answers: list[int], attempts: int, final: int) -> None:
    sink.answers = answers
    delivery = deliver(sink.url, *ping_event({}), retries=3, backoff=0)
    assert (delivery.attempts, delivery.status) == (attempts, final)


def test_unreachable_sink_is_status_zero_after_retries() -> None:
    delivery = deliver(f"http://127.0.0.1:{runner.free_port()}/", *ping_event({}), retries=1, backoff=0)
    assert delivery.status == 0 and delivery.attempts == 2


def _workflow(cluster: Emulator, name: str, labels: dict[str, str]) -> None:
    cluster.store.create(cluster.store.type_for(argo.WORKFLOWS), "ml", {"metadata": {"name": name, "labels": labels}})


def test_bridge_sends_existing_objects_then_changes(cluster: Emulator, sink: Sink) -> None:
    workflows = cluster.store.type_for(argo.WORKFLOWS)
    _workflow(cluster, "before", {"argoml.io/hyperparamworkflow": "s"})
    _workflow(cluster, "unlabelled", {})
    bridge = Bridge([WatchedResource(argo.WORKFLOWS, label_selector="argoml.io/hyperparamworkflow")],
                    sink.url).start()
    try:
        _workflow(cluster, "after", {"argoml.io/hyperparamworkflow": "s"})
        cluster.store.patch(workflows, "ml", "after", {"status": {"phase": "Running"}},
                            "application/merge-patch+json", subresource="status")
        cluster.store.delete(workflows, "ml", "after")
        received = sink.wait_for(4)
    finally:
        bridge.stop()
    parsed = [events.parse(r.headers, r.body) for r in received]
    assert [(e.action.value, e.ref.name) for e in parsed] == [
        ("add", "before"), ("add", "after"), ("update", "after"), ("delete", "after")]
    assert parsed[2].obj["status"] == {"phase": "Running"}


def test_bridge_in_reference_mode_sends_references(cluster: Emulator, sink: Sink) -> None:
    _workflow(cluster, "w", {})
    bridge = Bridge([WatchedResource(argo.WORKFLOWS)], sink.url, mode="Reference").start()
    try:
        (received,) = sink.wait_for(1)
    finally:
        bridge.stop()
    assert received.headers["ce-type"] == "dev.knative.apiserver.ref.add"
    assert json.loads(received.body) == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "w",
                                         "namespace": "ml"}


def test_bridge_delivers_a_real_cloudevent_to_a_running_function(cluster: Emulator) -> None:
    function = runner.start("hyperparam", env={"KUBECONFIG": str(cluster.kubeconfig)})
    deliveries: list = []
    bridge = Bridge([WatchedResource(HYPERPARAM_WORKFLOWS)], function.url,
                    on_delivery=lambda kind, delivery: deliveries.append((kind, delivery)))
    try:
        cluster.store.create(cluster.store.type_of("argoml.io", "v1alpha1", "hyperparamworkflows"), "ml",
                             {"metadata": {"name": "sweep"}, "spec": {"entrypoint": "main", "templates": []}})
        bridge.start()
        assert deliveries, "the bridge delivered nothing"
    finally:
        bridge.stop()
        function.stop()
    kind, delivery = deliveries[0]
    assert kind == "dev.knative.apiserver.resource.add"
    assert 200 <= delivery.status < 300, delivery.body


def test_ticker_sends_pingsource_events(sink: Sink) -> None:
    ticker = Ticker("*/5 * * * *", {"dryRun": True}, sink.url, name="nightly", namespace="ml")
    assert ticker.tick().status == 200
    (received,) = sink.wait_for(1)
    event = events.parse_ping_event(received.headers, received.body)
    assert event.data == {"dryRun": True} and event.source == "/apis/v1/namespaces/ml/pingsources/nightly"


def test_ticker_refuses_an_invalid_schedule(sink: Sink) -> None:
    with pytest.raises(ValueError, match="invalid cron schedule"):
        Ticker("every tuesday", {}, sink.url).start()
