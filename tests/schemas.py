"""Schema checks for generated resources: CRD schemas (strict) and Kubernetes' own schemas.

A CRD's structural ``openAPIV3Schema`` lets the API server prune unknown fields silently;
for tests that is too lenient (a misspelt field would vanish on a real cluster), so
:func:`crd_json_schema` turns it into a JSON schema where every object that declares
``properties`` and does not say ``x-kubernetes-preserve-unknown-fields`` rejects
anything else (``additionalProperties: false``). Built-in kinds are checked with the
``kubernetes-validate`` package (Kubernetes' published schemas, strict mode).
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SHARED = Path(__file__).resolve().parents[2] / "shared"  # as tests.conftest.SHARED
KUBERNETES_VERSION = "1.30"


def strict(schema: Any) -> Any:
    """A copy of a structural schema with unknown fields rejected wherever properties are declared."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: strict(value) for key, value in schema.items()
              if not key.startswith("x-kubernetes-") and key not in ("properties", "additionalProperties")}
    if "properties" in schema:
        result["properties"] = {name: strict(value) for name, value in schema["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in schema:
            result["additionalProperties"] = False
    if isinstance(schema.get("additionalProperties"), dict):
        result["additionalProperties"] = strict(schema["additionalProperties"])
    elif "additionalProperties" in schema and "properties" not in schema:
        result["additionalProperties"] = copy.deepcopy(schema["additionalProperties"])
    if schema.get("x-kubernetes-int-or-string"):
        result.pop("type", None)
        result["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return result


@functools.cache
def crd_json_schema(relative_path: str, version: str | None = None) -> dict[str, Any]:
    """The strict JSON schema of ``../shared/crds/<relative_path>`` (served version, or ``version``)."""
    crd = yaml.safe_load((SHARED / "crds" / relative_path).read_text())
    versions = crd["spec"]["versions"]
    chosen = next(v for v in versions if (v["name"] == version if version else v.get("storage")))
    return strict(chosen["schema"]["openAPIV3Schema"])


def validate_custom(obj: dict[str, Any], relative_path: str) -> None:
    """Raise ``jsonschema.ValidationError`` (with the field path) if ``obj`` breaks the CRD's schema."""
    jsonschema.validate(obj, crd_json_schema(relative_path), cls=jsonschema.Draft7Validator)


def validate_builtin(obj: dict[str, Any]) -> None:
    """Raise if ``obj`` (a Deployment, Service ...) breaks Kubernetes' schema, unknown fields included."""
    import kubernetes_validate

    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)

