"""Argo Workflows' vocabulary, written once: its kinds, labels, phases, storage kinds and status types.

These are facts of Argo's API (``pkg/apis/workflow/v1alpha1`` and the labels its
controller sets) that several capabilities read: gc finds a workflow's pods by
:data:`WORKFLOW_LABEL` and judges workflows by :class:`WorkflowPhase`; tensorboard reads
artifacts from :class:`NodeStatus`; hyperparam counts trials by node phase; validation
checks artifact locations against :data:`STORAGE_KINDS`. A Workflow has no status
subresource, so anything under ``status`` may have been written by a user: the
TypedDicts say what the fields are meant to be, and readers still check what they get.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypedDict

from argoml import kube

GROUP, VERSION = "argoproj.io", "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

WORKFLOWS = kube.Resource(GROUP, VERSION, "workflows", "Workflow")
WORKFLOW_TEMPLATES = kube.Resource(GROUP, VERSION, "workflowtemplates", "WorkflowTemplate")
CLUSTER_WORKFLOW_TEMPLATES = kube.Resource(GROUP, VERSION, "clusterworkflowtemplates", "ClusterWorkflowTemplate",
                                           namespaced=False)

WORKFLOW_LABEL = "workflows.argoproj.io/workflow"  # on every pod: the name of its workflow
COMPLETED_LABEL = "workflows.argoproj.io/completed"  # "true" on a finished workflow and its pods
DEFAULT_REPOSITORY_ANNOTATION = "workflows.argoproj.io/default-artifact-repository"
DEFAULT_REPOSITORIES_CONFIGMAP = "artifact-repositories"
CONTROLLER_CONFIGMAP = "workflow-controller-configmap"


class WorkflowPhase(StrEnum):
    """``status.phase`` of a Workflow (no phase yet: not picked up by the controller)."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"


FINISHED_PHASES = frozenset({WorkflowPhase.SUCCEEDED, WorkflowPhase.FAILED, WorkflowPhase.ERROR})
FAILED_PHASES = frozenset({WorkflowPhase.FAILED, WorkflowPhase.ERROR})


class NodePhase(StrEnum):
    """``status.nodes[*].phase``."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    SKIPPED = "Skipped"
    FAILED = "Failed"
    ERROR = "Error"
    OMITTED = "Omitted"


# Every place Argo can keep an artifact: the ArtifactLocation fields of an Artifact.
STORAGE_KINDS = ("s3", "gcs", "azure", "http", "artifactory", "hdfs", "oss", "git", "raw", "plugin")


class Artifact(TypedDict, total=False):
    """One input or output artifact; its location is under one of :data:`STORAGE_KINDS` (or only a key)."""

    name: str
    path: str
    archive: dict[str, Any]
    s3: dict[str, Any]
    gcs: dict[str, Any]
    azure: dict[str, Any]
    http: dict[str, Any]
    artifactory: dict[str, Any]
    hdfs: dict[str, Any]
    oss: dict[str, Any]
    git: dict[str, Any]
    raw: dict[str, Any]
    plugin: dict[str, Any]


class Outputs(TypedDict, total=False):
    artifacts: list[Artifact]
    parameters: list[dict[str, Any]]


class NodeStatus(TypedDict, total=False):
    """One entry of ``status.nodes`` (keyed by node id)."""

    id: str
    name: str
    displayName: str
    type: str  # Pod, Steps, DAG, Retry, StepGroup, TaskGroup, Skipped ...
    phase: str
    startedAt: str
    finishedAt: str
    children: list[str]
    outputs: Outputs


class WorkflowStatus(TypedDict, total=False):
    phase: str
    startedAt: str
    finishedAt: str
    nodes: dict[str, NodeStatus]
    artifactRepositoryRef: dict[str, Any]


def storage_kind(artifact: Mapping[str, Any]) -> str | None:
    """Where an artifact is stored (``s3``, ``http`` ...), ``None`` if it names no location."""
    return next((kind for kind in STORAGE_KINDS if artifact.get(kind) is not None), None)


# Argo names a node it expands from a loop (withItems, withParam, withSequence) ``<step>(<index>:<item>)``.
_LOOP_ITERATION = re.compile(r"^(?P<step>[^()]+)\((?P<index>\d{1,9}):")


def loop_iteration(name: str) -> tuple[str, int] | None:
    """The step and the iteration's index a loop node's name holds, or None for any other name."""
    match = _LOOP_ITERATION.match(name)
    return (match["step"], int(match["index"])) if match else None


def workflow_owners(obj: Mapping[str, Any]) -> list[kube.OwnerReference]:
    """The ownerReferences of ``obj`` that name an Argo Workflow (with a name), in their order."""
    return [ref for ref in kube.owner_references(obj, WORKFLOWS) if ref.get("name")]
