"""The emulator extensions the GC tests need: failures injected after some requests, expired continue tokens."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from argoml import kube
from argoml.dev.emulator import Emulator


def test_an_injected_failure_can_let_the_first_requests_through(cluster: Emulator) -> None:
    cluster.fail(503, method="GET", resource="pods", after=2)
    core = kube.core()
    core.list_namespaced_pod("ml")
    core.list_namespaced_pod("ml")
    with pytest.raises(ApiException) as raised:
        core.list_namespaced_pod("ml")
    assert raised.value.status == 503
    assert core.list_namespaced_pod("ml").items == []


def test_an_injected_410_on_a_continued_list_offers_a_token_to_go_on_with(cluster: Emulator) -> None:
    for name in ("a", "b", "c"):
        cluster.store.create(cluster.store.type_of("", "v1", "pods"), "ml", {"metadata": {"name": name}})
    core = kube.core()
    token = core.list_namespaced_pod("ml", limit=1).metadata._continue
    cluster.fail(410, method="GET", resource="pods")
    with pytest.raises(ApiException) as raised:
        core.list_namespaced_pod("ml", limit=1, _continue=token)
    status = json.loads(raised.value.body or "")
    assert (raised.value.status, status["reason"]) == (410, "Expired")
    rest = core.list_namespaced_pod("ml", _continue=status["metadata"]["continue"])
    assert [pod.metadata.name for pod in rest.items] == ["b", "c"]
