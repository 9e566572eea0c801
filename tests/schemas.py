"""Offline validation of Kubernetes objects, built-in kinds and custom resources alike.

Built-in kinds are checked by ``kubernetes-validate`` against Kubernetes' own OpenAPI
schemas, in strict mode (a field Kubernetes does not define is an error). Custom
resources are checked against the ``openAPIV3Schema`` of their CRD, turned into a JSON
Schema in which a field the schema does not declare is an error too, except where the
schema says ``x-kubernetes-preserve-unknown-fields``: the API server would silently prune
such a field, and the Knative, Argo and cert-manager webhooks reject it, so a typo in a
manifest would be lost or refused on the cluster. ``metadata`` of a custom resource is
checked against Kubernetes' ObjectMeta, and the CRD's CEL rules (``x-kubernetes-validations``)
are evaluated with ``cel-python``. What is not checked: transition rules (``oldSelf``: there
is no stored object), ``format``, defaulting, and anything only a controller's webhook knows.

    registry = SchemaRegistry.from_paths(SHARED / "crds")
    problems = registry.problems(obj)   # [] when valid; else "path: message" strings
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
import referencing
import yaml

KUBERNETES_VERSION = "1.30"  # the oldest Kubernetes docs/deploy.md supports



class _KubernetesLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML as kubectl reads it: ``1e-5`` is a number there (YAML 1.2), a string to PyYAML (1.1).

    The C loader when available: the Argo CRDs are megabytes of YAML.
    """


_KubernetesLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+$"), list("-+0123456789."))
_SCHEMA_KEYWORDS = ("enum", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
                    "minProperties", "maxProperties", "uniqueItems", "multipleOf", "required", "description")
_COMBINATORS = ("oneOf", "anyOf", "allOf")


def to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """A structural OpenAPI v3 schema (as in a CRD) as a JSON Schema where unknown fields are errors.

    ``properties`` without ``x-kubernetes-preserve-unknown-fields`` become a closed object
    (``additionalProperties: false``); ``nullable`` admits null; ``x-kubernetes-int-or-string``
    admits both; OpenAPI 3.0's boolean ``exclusiveMinimum``/``exclusiveMaximum`` become numbers;
    an ``x-kubernetes-embedded-resource`` also admits apiVersion, kind and metadata.
    """
    out: dict[str, Any] = {key: copy.deepcopy(node[key]) for key in _SCHEMA_KEYWORDS if key in node}
    out.pop("description", None)
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    elif "type" in node:
        out["type"] = [node["type"], "null"] if node.get("nullable") else node["type"]
    for bound in ("Minimum", "Maximum"):
        if node.get(f"exclusive{bound}") is True and bound.lower() in node:
            out[f"exclusive{bound}"] = out.pop(bound.lower())
    properties = dict(node.get("properties", {}))
    if node.get("x-kubernetes-embedded-resource"):
        properties = {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                      "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}, **properties}
    if properties:
        out["properties"] = {name: to_json_schema(sub) for name, sub in properties.items()}
    if "items" in node:
        out["items"] = to_json_schema(node["items"])
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        out["additionalProperties"] = to_json_schema(additional)
    elif additional is False or (properties and not preserve and additional is None):
        out["additionalProperties"] = False
    for combinator in _COMBINATORS:
        if combinator in node:
            out[combinator] = [to_json_schema(sub) for sub in node[combinator]]
    if "not" in node:
        out["not"] = to_json_schema(node["not"])
    return out


def structural_problems(node: dict[str, Any], path: str = "") -> list[str]:
    """Where a CRD schema is not structural: a node with neither a type nor a way to hold anything."""
    problems = []
    free = node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string")
    if "type" not in node and not free:
        problems.append(f"{path or '<root>'}: no type")
    for name, sub in node.get("properties", {}).items():
        problems += structural_problems(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        problems += structural_problems(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        problems += structural_problems(node["additionalProperties"], f"{path}.*")
    return problems


def load_documents(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every YAML document (a mapping) in these files, and in the .yaml files under these directories."""
    for path in paths:
        files = sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
        for file in files:
            documents = yaml.load_all(file.read_text(), Loader=_KubernetesLoader)
            yield from (doc for doc in documents if isinstance(doc, dict))


class SchemaRegistry:
    """Validators for custom resources, by (apiVersion, kind), from CRDs; built-in kinds via kubernetes-validate."""

    def __init__(self, crds: Iterable[dict[str, Any]] = ()) -> None:
        self._custom: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
        self._rules: dict[tuple[str, str], dict[str, Any]] = {}
        self._metadata = _object_meta_validator()
        for crd in crds:
            self.add_crd(crd)

    @classmethod
    def from_paths(cls, *paths: Path) -> SchemaRegistry:
        """A registry of every CustomResourceDefinition found in these files or directories."""
        return cls(doc for doc in load_documents(paths) if doc.get("kind") == "CustomResourceDefinition")

    def add_crd(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        for version in spec["versions"]:
            if not version.get("served", True):
                continue
            schema = to_json_schema(version["schema"]["openAPIV3Schema"])
            schema.setdefault("properties", {}).update(apiVersion={"type": "string"}, kind={"type": "string"},
                                                       metadata={"type": "object"})
            schema["additionalProperties"] = False
            key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
            self._custom[key] = jsonschema.Draft202012Validator(schema)
            self._rules[key] = version["schema"]["openAPIV3Schema"]

    def kinds(self) -> set[tuple[str, str]]:
        """The (apiVersion, kind) pairs of the custom resources this registry knows."""
        return set(self._custom)

    def problems(self, obj: dict[str, Any]) -> list[str]:
        """Why ``obj`` is invalid, one "path: message" per problem; empty when it is valid."""
        key = (obj.get("apiVersion", ""), obj.get("kind", ""))
        if key in self._custom:
            errors = list(self._custom[key].iter_errors(obj))
            errors += [_prefixed(e, "metadata") for e in self._metadata.iter_errors(obj.get("metadata", {}))]
            return sorted([f"{_path(e)}: {e.message}" for e in errors] + list(_rule_problems(self._rules[key], obj)))
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            return [f"{key[0]} {key[1]}: no schema (neither a built-in kind nor a known CRD)"]
        except kubernetes_validate.ValidationError as exc:
            return [f"{'.'.join(map(str, exc.path)) or '<root>'}: {exc.message}"]
        return []


def cel(expression: str, **variables: Any) -> Any:
    """Evaluate a CEL expression over JSON-like ``variables`` (a CRD rule's ``self``, a matchCondition's
    ``request``/``object``/``oldObject``); the result as a CEL value (``bool(...)`` for a condition)."""
    result = _program(expression).evaluate({name: celpy.json_to_cel(value) for name, value in variables.items()})
    if isinstance(result, celpy.CELEvalError):
        raise result
    return result


@functools.cache
def _program(expression: str) -> celpy.Runner:
    environment = celpy.Environment()
    return environment.program(environment.compile(expression))


def _rule_problems(node: dict[str, Any], value: Any, path: str = "") -> Iterator[str]:
    """The CEL rules of ``node`` and of the schema nodes below it, on ``value``; the failures."""
    if value is None:
        return
    for rule in node.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"]:
            continue
        try:
            passed = bool(cel(rule["rule"], self=value))
        except celpy.CELEvalError as exc:
            passed, rule = False, {**rule, "message": f"rule {rule['rule']!r} could not be evaluated: {exc}"}
        if not passed:
            yield f"{path or '<root>'}{rule.get('fieldPath', '')}: {rule.get('message') or 'failed ' + rule['rule']}"
    properties = node.get("properties", {})
    if isinstance(value, dict):
        for name, item in value.items():
            sub = properties.get(name, node.get("additionalProperties"))
            if isinstance(sub, dict):
                yield from _rule_problems(sub, item, f"{path}.{name}" if path else name)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for index, item in enumerate(value):
            yield from _rule_problems(node["items"], item, f"{path}.{index}")


def _object_meta_validator() -> jsonschema.protocols.Validator:
    strict = resources.files(kubernetes_validate) / "kubernetes-json-schema" / f"v{KUBERNETES_VERSION}.0-local-strict"
    definitions = json.loads((strict / "_definitions.json").read_text())
    meta = json.loads((strict / "objectmeta-meta-v1.json").read_text())
    registry = referencing.Registry().with_resources(
        (doc["$id"], referencing.Resource.from_contents(doc)) for doc in (definitions, meta))
    return jsonschema.Draft202012Validator(meta, registry=registry)


def _prefixed(error: jsonschema.ValidationError, field: str) -> jsonschema.ValidationError:
    error.path.appendleft(field)
    return error


def _path(error: jsonschema.ValidationError) -> str:
    return ".".join(map(str, error.path)) or "<root>"
