"""Emulator extension for the hyperparam tests: injected failures can carry a Status message."""

from __future__ import annotations

import pytest

from argoml import argo, kube
from argoml.dev.emulator import Emulator


def test_an_injected_failure_carries_the_given_message(cluster: Emulator) -> None:
    denial = 'admission webhook "policy.example.com" denied the request: images must come from our registry'
    cluster.fail(403, method="POST", resource="workflows", message=denial)
    with pytest.raises(kube.Forbidden) as caught:
        kube.create(argo.WORKFLOWS, "ml", {"metadata": {"name": "w"}})
    assert caught.value.api_message == denial
