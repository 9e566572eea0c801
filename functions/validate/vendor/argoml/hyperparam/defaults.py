"""A HyperparamWorkflow's defaults, written into it when it is stored (the mutating webhook).

Filling ``algorithm`` and ``parameterName`` at admission makes ``kubectl get -o yaml`` show
what the hyperparam function will do, and the ``argoml.io/algorithm`` label lets users
select sweeps by algorithm (``kubectl get hparam -l argoml.io/algorithm=random``). The
values are the search space's own defaults (argoml.hyperparam.search), so the webhook and
the function can never disagree.
"""

from __future__ import annotations

from typing import Any

from argoml import names
from argoml.hyperparam import search

SPEC_DEFAULTS = {"algorithm": search.DEFAULT_ALGORITHM, "parameterName": search.DEFAULT_PARAMETER}
ALGORITHM_LABEL = "argoml.io/algorithm"


def defaulting_patch(sweep: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON Patch (RFC 6902) operations that add the defaults and the label ``sweep`` lacks.

    Only missing fields are added; a spec that is not an object is left for validation to refuse.
    """
    spec = sweep.get("spec")
    if not isinstance(spec, dict):
        return []
    patch: list[dict[str, Any]] = [{"op": "add", "path": f"/spec/{key}", "value": value}
                                   for key, value in SPEC_DEFAULTS.items() if spec.get(key) is None]
    algorithm = spec.get("algorithm") or SPEC_DEFAULTS["algorithm"]
    metadata = sweep.get("metadata") if isinstance(sweep.get("metadata"), dict) else None
    labels = (metadata or {}).get("labels")
    if names.is_label_value(algorithm):
        if metadata is None:
            patch.append({"op": "add", "path": "/metadata", "value": {"labels": {ALGORITHM_LABEL: algorithm}}})
        elif not isinstance(labels, dict):
            patch.append({"op": "add", "path": "/metadata/labels", "value": {ALGORITHM_LABEL: algorithm}})
        elif labels.get(ALGORITHM_LABEL) != algorithm:
            patch.append({"op": "add", "path": f"/metadata/labels/{_pointer(ALGORITHM_LABEL)}", "value": algorithm})
    return patch


def _pointer(key: str) -> str:
    """``key`` as one JSON Pointer segment (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")
