"""Emulator extension for the hyperparam tests: injected failures can carry a Status message."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from argoml import kube
from argoml.dev.emulator import Emulator


def test_an_injected_failure_carries_the_given_message(cluster: Emulator) -> None:
    denial = 'admission webhook "policy.example.com" denied the request: images must come from our registry'
    cluster.fail(403, method="POST", resource="workflows", message=denial)
    with pytest.raises(ApiException) as caught:
        kube.custom().create_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflows",
                                                      {"metadata": {"name": "w"}})
    failure = kube.failure_of(caught.value)
    assert failure is not None and (failure.status, failure.message) == (403, denial)
