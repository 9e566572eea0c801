"""The labels and annotations that mark a TensorBoard instance: the contract gc collects by.

The tensorboard function stamps them on every object of an instance (a Knative Service,
or a Deployment with a core Service); gc lists and judges instances by them
(argoml/gc/tensorboards.py). Both import them from here, so renaming one cannot make gc
silently stop collecting instances.
"""

from __future__ import annotations

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "argoml-tensorboard"
WORKFLOW_LABEL = "argoml.io/tensorboard-workflow"  # the workflow's name (shortened with a hash past 63 characters)
INSTANCE_LABEL = "app.kubernetes.io/instance"
NAME_LABEL = "app.kubernetes.io/name"

LAST_ACCESSED_ANNOTATION = "argoml.io/last-accessed"  # RFC 3339, stamped when the instance is used
RUNS_ANNOTATION = "argoml.io/tensorboard-runs"  # JSON list of the runs it shows
SPEC_ANNOTATION = "argoml.io/tensorboard-spec-hash"  # of the pod spec, to tell when the logs changed

MANAGED = f"{MANAGED_BY_LABEL}={MANAGED_BY}"  # every instance object
INSTANCE_PARTS = f"{MANAGED},{WORKFLOW_LABEL}"  # ... that names its workflow: what gc may remove
