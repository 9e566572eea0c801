"""Workflows as Argo's controller leaves them: ``status.nodes`` with output artifacts, for tests."""

from __future__ import annotations

from typing import Any

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
