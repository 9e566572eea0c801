"""Why an instance does not start: what its log fetcher said when it failed.

The fetcher (the init container :data:`FETCH_CONTAINER`) writes the reason it failed — wrong
credentials, a missing object, an archive over the size limit — to its termination message,
and the kubelet copies that into the pod's status (``initContainerStatuses[].state.terminated``,
or ``lastState.terminated`` once it is being restarted). Neither a Knative Service nor a
Deployment passes it on, so the function reads it from the instance's pods, found by the
instance label every part of an instance carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argoml import kube

FETCH_CONTAINER = "fetch-logs"
MAX_MESSAGE = 2048


def fetch_failures(namespace: str, label_selector: str, instance_label: str) -> dict[str, str]:
    """The fetcher's latest failure per instance (by the value of ``instance_label``) among the pods selected."""
    failures: dict[str, str] = {}
    for page in kube.list_pages(kube.PODS, namespace, label_selector=label_selector):
        for pod in page:
            instance = ((pod.get("metadata") or {}).get("labels") or {}).get(instance_label)
            if isinstance(instance, str) and (message := fetch_failure(pod)):
                failures[instance] = message
    return failures


def fetch_failure(pod: Mapping[str, Any]) -> str | None:
    """What the pod's fetcher said when it last exited with an error, or ``None``."""
    for status in (pod.get("status") or {}).get("initContainerStatuses") or []:
        if not isinstance(status, Mapping) or status.get("name") != FETCH_CONTAINER:
            continue
        for state in (status.get("state"), status.get("lastState")):
            terminated = (state or {}).get("terminated") if isinstance(state, Mapping) else None
            if isinstance(terminated, Mapping) and terminated.get("exitCode") not in (0, None):
                text = terminated.get("message") or terminated.get("reason") or f"exit code {terminated['exitCode']}"
                return str(text).strip()[:MAX_MESSAGE]
    return None
