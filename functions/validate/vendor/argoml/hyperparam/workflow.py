"""HyperparamWorkflow -> Argo Workflow: the pure expansion, shared by the function, the webhook and the CLI.

:func:`generate` turns a HyperparamWorkflow into the Workflow that runs all its trials (same
namespace and name, labelled :data:`LABEL`, controlled by the HyperparamWorkflow, the trials
as one JSON list parameter). It reads nothing from the cluster, so the validate webhook can
refuse exactly the sweeps the hyperparam function could not expand, and ``argoml expand``
previews the Workflow offline. The constants here are the HyperparamWorkflow's API and the
marks a generated Workflow carries; :mod:`~argoml.hyperparam.reconcile` reads them back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argoml import argo, kube, names
from argoml.hyperparam import search

GROUP, VERSION, PLURAL, KIND = "argoml.io", "v1alpha1", "hyperparamworkflows", "HyperparamWorkflow"
API_VERSION = f"{GROUP}/{VERSION}"
HYPERPARAM_WORKFLOWS = kube.Resource(GROUP, VERSION, PLURAL, KIND)
LABEL = "argoml.io/hyperparamworkflow"
GENERATION_ANNOTATION = "argoml.io/generation"  # the HyperparamWorkflow generation a Workflow was made from
TRIALS_ANNOTATION = "argoml.io/trials"
PARAMETER_ANNOTATION = "argoml.io/parameter"
# etcd refuses objects over about 1.5 MiB, and Argo writes the status of every trial's
# node into the same object; the spec may use at most this much of it.
MAX_WORKFLOW_BYTES = 1 << 20

@dataclass(frozen=True)
class Generated:
    """The Workflow a HyperparamWorkflow expands to, and how many trials it carries."""

    workflow: dict[str, Any]
    trials: int


def generate(sweep: Mapping[str, Any]) -> Generated:
    """The Workflow for ``sweep``; raises :class:`~argoml.hyperparam.search.InvalidSpec` naming every problem."""
    errors: list[search.SpecError] = []
    given = sweep.get("metadata")
    metadata: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    name = metadata.get("name")
    if not names.is_dns_label(name):
        # Argo names pods after the Workflow, and the name is the value of LABEL: both need <= 63.
        errors.append(search.SpecError("metadata.name", f"{name!r} cannot name the Workflow: it must be a DNS label "
                                       "(at most 63 lowercase letters, digits and '-')"))
    spec = sweep.get("spec")
    space = search.read(spec, errors)
    if errors or space is None or not isinstance(spec, Mapping):
        raise search.InvalidSpec(errors)
    trials = space.trials(max_bytes=MAX_WORKFLOW_BYTES)  # stops as soon as they cannot fit
    workflow_spec = {key: value for key, value in spec.items() if key not in search.SEARCH_FIELDS}
    arguments = dict(workflow_spec.get("arguments") or {})
    arguments["parameters"] = [*(arguments.get("parameters") or []),
                               {"name": space.parameter_name, "value": json.dumps(trials, separators=(",", ":"))}]
    workflow_spec["arguments"] = arguments
    workflow_metadata: dict[str, Any] = {
        "name": name,
        "labels": {LABEL: name},
        "annotations": {GENERATION_ANNOTATION: str(metadata.get("generation", 1)),
                        TRIALS_ANNOTATION: str(len(trials)), PARAMETER_ANNOTATION: space.parameter_name},
    }
    if metadata.get("namespace"):
        workflow_metadata["namespace"] = metadata["namespace"]
    if metadata.get("uid"):
        workflow_metadata["ownerReferences"] = [kube.owner_reference(HYPERPARAM_WORKFLOWS, str(name), metadata["uid"],
                                                                     controller=True)]
    workflow = {"apiVersion": argo.WORKFLOWS.api_version, "kind": argo.WORKFLOWS.kind,
                "metadata": workflow_metadata, "spec": workflow_spec}
    size = len(json.dumps(workflow, separators=(",", ":")))
    if size > MAX_WORKFLOW_BYTES:
        raise search.InvalidSpec([search.SpecError(
            "spec.hyperparams", f"the generated Workflow would be {size:,} bytes with {len(trials):,} trials, more "
            f"than the {MAX_WORKFLOW_BYTES:,} bytes that are safe to store (etcd's limit is about 1.5 MiB and Argo "
            "adds the status of every trial): use fewer or shorter values, or algorithm: random with a smaller "
            "maxTrials")])
    return Generated(workflow, len(trials))
