"""The emulator extension the GC tests need: a failure injected after some requests went through."""

from __future__ import annotations

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
