"""Workflows as Argo's controller leaves them: ``status.nodes`` with output artifacts, for tests."""

from __future__ import annotations

from typing import Any

import yaml

MINIO_REPOSITORY = {"s3": {"bucket": "ml-artifacts", "endpoint": "minio.argo:9000", "insecure": True,
                           "accessKeySecret": {"name": "minio-creds", "key": "accesskey"},
                           "secretKeySecret": {"name": "minio-creds", "key": "secretkey"}}}


def pod(node_id: str, display: str, *artifacts: dict[str, Any], phase: str = "Succeeded",
        started: str = "2026-11-28T10:00:00Z") -> tuple[str, dict[str, Any]]:
    outputs = {"artifacts": list(artifacts)} if artifacts else None
    node: dict[str, Any] = {"id": node_id, "name": f"wf.{display}", "displayName": display, "type": "Pod",
                            "phase": phase, "startedAt": started, "templateName": "train"}
    if outputs:
        node["outputs"] = outputs
    return node_id, node


def group(node_id: str, display: str, kind: str, children: list[str], *artifacts: dict[str, Any]
          ) -> tuple[str, dict[str, Any]]:
    node: dict[str, Any] = {"id": node_id, "name": f"wf.{display}", "displayName": display, "type": kind,
                            "phase": "Succeeded", "children": children, "startedAt": "2026-11-28T09:59:00Z"}
    if artifacts:
        node["outputs"] = {"artifacts": list(artifacts)}
    return node_id, node


def key_only(key: str, name: str = "tensorboard", **extra: Any) -> dict[str, Any]:
    return {"name": name, "path": "/logs", "s3": {"key": key}, **extra}


def workflow(name: str = "train-mnist", namespace: str = "ml", *nodes: tuple[str, dict[str, Any]],
             phase: str = "Succeeded", repository: dict[str, Any] | None = None,
             status_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "nodes": dict(nodes), **(status_extra or {})}
    if repository is not None:
        status["artifactRepositoryRef"] = {"default": False, "configMap": "artifact-repositories",
                                           "key": "default-v1", "namespace": namespace,
                                           "artifactRepository": repository}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "python:3.11"}}]},
            "status": status}


def repository_configmap(namespace: str, repository: dict[str, Any], key: str = "default-v1") -> dict[str, Any]:
    """The namespace's ``artifact-repositories`` ConfigMap holding ``repository`` as its default."""
    return {"metadata": {"name": "artifact-repositories", "namespace": namespace,
                         "annotations": {"workflows.argoproj.io/default-artifact-repository": key}},
            "data": {key: yaml.safe_dump(repository)}}


def seed(cluster: Any, wf: dict[str, Any]) -> dict[str, Any]:
    """Store ``wf`` with its status, and the repository its status records in its namespace's ConfigMap.

    The function reads a repository only from its ConfigMap (the status's copy is user-writable),
    so a test workflow that ran with a repository needs that ConfigMap, as on a real cluster.
    """
    store = cluster.store
    namespace = wf["metadata"]["namespace"]
    ref = (wf.get("status") or {}).get("artifactRepositoryRef")
    if isinstance(ref, dict) and ref.get("artifactRepository") is not None:
        configmaps = store.type_of("", "v1", "configmaps")
        if not any(c["metadata"]["name"] == "artifact-repositories" for c in store.find(configmaps, namespace)):
            store.create(configmaps, namespace, repository_configmap(namespace, ref["artifactRepository"]))
    return store.create(store.type_of("argoproj.io", "v1alpha1", "workflows"), namespace, wf, keep_status=True)
