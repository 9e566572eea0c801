"""Argo Workflows and their pods as the workflow controller leaves them, seeded straight into the store.

The GC demo, tests and benchmark need clusters full of finished, running and
orphaned workflow pods; these build them with the labels, ownerReferences and
status fields the controller and kubelet write (and nothing the GC does not read
is left out, so a pod weighs what a real one does in a list).
"""

from __future__ import annotations

from datetime import datetime

from argoml.argo import COMPLETED_LABEL, WORKFLOW_LABEL
from argoml.dev.store import Store
from argoml.kube import Obj
from argoml.timestamps import format_rfc3339

POD_PHASE_OF = {"Succeeded": "Succeeded", "Failed": "Failed", "Error": "Failed", "Running": "Running",
                "Pending": "Pending"}


def workflow(namespace: str, name: str, *, phase: str | None, finished_at: datetime | None = None,
             started_at: datetime | None = None, labels: dict[str, str] | None = None) -> Obj:
    finished = phase in ("Succeeded", "Failed", "Error")
    status: Obj = {"phase": phase} if phase else {}
    if started_at:
        status["startedAt"] = format_rfc3339(started_at)
    if finished_at:
        status["finishedAt"] = format_rfc3339(finished_at)
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {COMPLETED_LABEL: str(finished).lower(),
                                    **({"workflows.argoproj.io/phase": phase} if phase else {}),
                                    **(labels or {})}},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "python:3.12"}}]},
            "status": status}


def pod(namespace: str, name: str, *, workflow_name: str | None, phase: str,
        finished_at: datetime | None = None, owner: Obj | None = None, completed: bool | None = None) -> Obj:
    """A workflow pod (or, with ``workflow_name=None``, an unlabelled one) in ``phase``."""
    done = phase in ("Succeeded", "Failed")
    labels = {WORKFLOW_LABEL: workflow_name,
              COMPLETED_LABEL: str(done if completed is None else completed).lower()} if workflow_name else {}
    metadata: Obj = {"name": name, "namespace": namespace, "labels": labels,
                     "annotations": {"workflows.argoproj.io/node-name": f"{workflow_name}.{name}"}}
    if owner is not None:
        metadata["ownerReferences"] = [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                                        "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                        "controller": True, "blockOwnerDeletion": True}]
    containers = [{"name": name_, "image": image, "command": ["argoexec", name_] if name_ == "wait" else ["python"]}
                  for name_, image in (("wait", "quay.io/argoproj/argoexec:v3.5.5"), ("main", "python:3.12"))]
    status: Obj = {"phase": phase, "podIP": "10.244.1.7", "hostIP": "172.18.0.2", "qosClass": "Burstable"}
    if done and finished_at is not None:
        stamp = format_rfc3339(finished_at)
        status["containerStatuses"] = [
            {"name": c["name"], "image": c["image"], "imageID": f"docker.io/{c['image']}@sha256:{'0' * 64}",
             "containerID": f"containerd://{index:064x}", "ready": False, "restartCount": 0, "started": False,
             "state": {"terminated": {"exitCode": 0 if phase == "Succeeded" else 1, "reason": "Completed",
                                      "startedAt": stamp, "finishedAt": stamp}}}
            for index, c in enumerate(containers)]
        status["conditions"] = [{"type": "Ready", "status": "False", "lastTransitionTime": stamp,
                                 "reason": "PodCompleted"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"containers": containers, "restartPolicy": "Never", "serviceAccountName": "default",
                     "nodeName": "worker-1"},
            "status": status}


def seed(store: Store, namespace: str, name: str, *, phase: str | None, finished_at: datetime | None = None,
         labels: dict[str, str] | None = None, pods: int = 2, pod_phase: str | None = None,
         step: str = "main") -> list[str]:
    """Store a workflow and its ``pods`` pods (owned by it, named for ``step``); the pods' names."""
    stored = store.create(store.type_of("argoproj.io", "v1alpha1", "workflows"), namespace,
                          workflow(namespace, name, phase=phase, finished_at=finished_at, labels=labels),
                          keep_status=True)
    pods_type = store.type_of("", "v1", "pods")
    names = [f"{name}-{step}-{index}" for index in range(pods)]
    for pod_name in names:
        store.create(pods_type, namespace, pod(namespace, pod_name, workflow_name=name, owner=stored,
                                               phase=pod_phase or POD_PHASE_OF.get(phase or "", "Pending"),
                                               finished_at=finished_at), keep_status=True)
    return names


def seed_pod(store: Store, namespace: str, name: str, *, workflow_name: str | None, phase: str,
             finished_at: datetime | None = None, completed: bool | None = None) -> str:
    """Store a single pod with no owner: an orphan (or, without ``workflow_name``, an unlabelled pod)."""
    store.create(store.type_of("", "v1", "pods"), namespace,
                 pod(namespace, name, workflow_name=workflow_name, phase=phase, finished_at=finished_at,
                     completed=completed), keep_status=True)
    return name
