"""Generate ``argoml/validation/argo-schema.json`` from Argo's CRDs (a build step, not run time).

The full Argo CRDs are 11 MB of YAML, most of it the same sub-schemas repeated (a container
appears in every template type, in initContainers, sidecars, containerSets...). The validator
only needs the structure: types, properties, items, required fields, enums and the few
Kubernetes extensions that change what is accepted. This script keeps exactly that, interns
identical sub-schemas once, and writes a small JSON table the validator loads at import.

Run ``python -m tools.argo_schema ../shared/crds/argo-workflows`` after Argo's CRDs
change; a test regenerates it from the CRDs and fails when the committed copy differs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

# The file argoml/validation/structure.py loads (tools/ sits beside argoml/ at the repo root).
OUTPUT = Path(__file__).resolve().parents[1] / "argoml" / "validation" / "argo-schema.json"
KINDS = {
    "Workflow": "argoproj.io_workflows.yaml",
    "WorkflowTemplate": "argoproj.io_workflowtemplates.yaml",
    "ClusterWorkflowTemplate": "argoproj.io_clusterworkflowtemplates.yaml",
    "CronWorkflow": "argoproj.io_cronworkflows.yaml",
}
# Node keys: t=type, p=properties, i=items, a=additionalProperties, r=required, e=enum,
# x=preserve unknown fields, s=int-or-string, n=minItems.
_KEPT = ("t", "p", "i", "a", "r", "e", "x", "s", "n")


class _Interner:
    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.index: dict[str, int] = {}

    def add(self, node: dict[str, Any]) -> int:
        key = json.dumps(node, sort_keys=True)
        if key not in self.index:
            self.index[key] = len(self.nodes)
            self.nodes.append(node)
        return self.index[key]


def _compact(schema: dict[str, Any], interner: _Interner, template: int | None = None) -> int:
    node: dict[str, Any] = {}
    if schema.get("x-kubernetes-int-or-string"):
        node["s"] = 1
    elif "type" in schema:
        node["t"] = schema["type"]
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        node["x"] = 1
    if "properties" in schema:
        node["p"] = {name: _compact(sub, interner, template) for name, sub in sorted(schema["properties"].items())}
    if "items" in schema:
        node["i"] = _compact(schema["items"], interner, template)
    if isinstance(schema.get("additionalProperties"), dict):
        node["a"] = _compact(schema["additionalProperties"], interner, template)
    if schema.get("required"):
        node["r"] = sorted(schema["required"])
    if schema.get("enum"):
        node["e"] = schema["enum"]
    if schema.get("minItems"):
        node["n"] = schema["minItems"]
    return interner.add(node)


def _template_schema(spec: dict[str, Any]) -> dict[str, Any]:
    template: dict[str, Any] = spec["properties"]["templates"]["items"]
    return template


def _with_deprecated_fields(schema: Any) -> Any:
    """Put back the fields Argo 3.6 deprecated and later CRDs dropped, which 3.x still runs.

    ``synchronization.semaphore`` / ``mutex`` (one lock, before the lists) and a CronWorkflow's
    ``schedule`` (one schedule, before ``schedules``): the CRDs here are from after their
    removal, but argo-ml supports Argo 3.5+, where most manifests still use them. The
    validator accepts them with a deprecation warning.
    """
    if isinstance(schema, list):
        return [_with_deprecated_fields(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _with_deprecated_fields(value) for key, value in schema.items()}
    properties = schema.get("properties")
    if isinstance(properties, dict) and "mutexes" in properties and "semaphores" in properties:
        schema["properties"] = dict(properties, mutex=properties["mutexes"]["items"],
                                    semaphore=properties["semaphores"]["items"])
    if isinstance(properties, dict) and "schedules" in properties and "workflowSpec" in properties:
        schema["properties"] = dict(schema["properties"], schedule={"type": "string"})
        schema["required"] = [key for key in schema.get("required", []) if key != "schedules"]
    return schema


def generate(crd_dir: Path) -> dict[str, Any]:
    interner = _Interner()
    roots: dict[str, int] = {}
    template_root: int | None = None
    for kind, filename in KINDS.items():
        crd = yaml.load((crd_dir / filename).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        # The controller writes status; admission sees it on updates, and need not check it.
        status = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        schema = _with_deprecated_fields(dict(schema, properties=dict(schema["properties"], status=status)))
        roots[kind] = _compact(schema, interner)
        if kind == "Workflow":
            template_root = _compact(_template_schema(schema["properties"]["spec"]), interner)
    return {"roots": roots, "template": template_root, "nodes": [{k: n[k] for k in _KEPT if k in n}
                                                                  for n in interner.nodes]}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tools.argo_schema CRD_DIR", file=sys.stderr)
        return 2
    OUTPUT.write_text(json.dumps(generate(Path(argv[0])), separators=(",", ":")) + "\n")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
