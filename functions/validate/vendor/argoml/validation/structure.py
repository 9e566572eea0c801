"""Structural check of an Argo resource against Argo's own CRD schema.

Argo's CLI decodes manifests strictly, so a misspelt field (``entrypiont``) is an error
rather than silently dropped; this module gives the same guarantee without Go. The schema
is ``argo-schema.json``, generated from Argo's CRDs by :mod:`tools.argo_schema`
(types, properties, required fields, enums; descriptions dropped and identical
sub-schemas shared), loaded once per process.

Leniencies, each matching what Argo's decoder accepts: any scalar in a parameter's
``value``, ``default``, ``description`` and ``enum`` (Argo's ``AnyString`` takes
``value: 3``; everywhere else Go's decoder refuses a number or boolean for a string, as in
``env: [{name: N, value: 3}]`` or ``nodeSelector: {gpu: true}``), and ``null`` for any field.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from argoml import jsontypes, quantities
from argoml.validation import budget
from argoml.validation.report import Report

SCHEMA_FILE = Path(__file__).with_name("argo-schema.json")
# The CRD leaves metadata open (the API server checks it), but a typo there is still a typo.
OBJECT_META = frozenset({"name", "generateName", "namespace", "labels", "annotations", "uid", "resourceVersion",
                         "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                         "ownerReferences", "finalizers", "managedFields", "selfLink"})
API_VERSION = "argoproj.io/v1alpha1"
# Resource quantities (cpu: 500m, memory: 4Gi): the pod would be refused for "4GB" or "1 core".
# They are the values of a `limits` or `requests` map (keys hold dots: nvidia.com/gpu) and
# `sizeLimit`: found by the parent's key, never by matching the path (a path can be megabytes).
_QUANTITY_MAP_SUFFIXES = (".limits", ".requests")
# Kubernetes enums the CRD leaves as plain strings (the API server checks them only when the
# controller creates the pod): by field name, where the name means one thing in Argo's schema.
K8S_ENUMS = {
    "imagePullPolicy": ("Always", "IfNotPresent", "Never"),
    "terminationMessagePolicy": ("File", "FallbackToLogsOnError"),
    "dnsPolicy": ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"),
    "protocol": ("TCP", "UDP", "SCTP"),
    "effect": ("NoSchedule", "PreferNoSchedule", "NoExecute"),
}
# The CRD requires what Go declares without ``omitempty``; Argo's validator, ``argo lint`` and
# its server do not (and where the full CRDs are installed the API server refuses it before
# any webhook runs), so such a field missing is a warning.
REQUIRED_BY_CRD = "Required value (by Argo's full CRDs; Argo's own validator accepts it without)"
# Argo's AnyString fields: a parameter's value, default, description and enum values.
_ANY_STRING = re.compile(r"\.parameters\[\d+\]\.(value|default|description|enum\[\d+\]|valueFrom\.default)$")


def did_you_mean(key: str, known: Iterable[str], elsewhere: Mapping[str, str] | None = None) -> str:
    """The hint for an unknown field: the one probably meant, among ``known`` beside it or ``elsewhere``
    (name -> where it goes, e.g. ``spec.hyperparams``); empty when none is close."""
    names = {name: name for name in known} | dict(elsewhere or {})
    close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.75)
    return f'did you mean "{names[close[0]]}"?' if close else ""


@functools.cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return schema


def check(obj: dict[str, Any], kind: str, report: Report) -> None:
    """Add a problem to ``report`` for every field of ``obj`` the schema of ``kind`` rejects."""
    schema = _schema()
    _check(obj, schema["roots"][kind], "", schema["nodes"], schema["template"], report)
    if obj.get("apiVersion") not in (None, API_VERSION):
        report.error("apiVersion", f'Unsupported value: "{obj["apiVersion"]}": supported values: "{API_VERSION}"')
    if isinstance(obj.get("metadata"), dict):
        for key in obj["metadata"]:
            if key not in OBJECT_META:
                report.error(f"metadata.{key}", f'unknown field "{key}"', did_you_mean(key, OBJECT_META))
        for key in ("labels", "annotations"):  # Go decodes them as map[string]string
            values = obj["metadata"].get(key)
            if values is not None and not isinstance(values, dict):
                report.error(f"metadata.{key}", f"must be of type object, got {jsontypes.type_name(values)}")
            for name, value in (values.items() if isinstance(values, dict) else ()):
                if value is not None and not isinstance(value, str):
                    report.error(f"metadata.{key}.{name}", f"must be of type string, got {jsontypes.type_name(value)}")


def check_workflow_spec(spec: dict[str, Any], path: str, report: Report, *,
                        ignore: frozenset[str] = frozenset()) -> None:
    """Check a workflow spec embedded in another resource, skipping the wrapper's own ``ignore`` fields
    (which an unknown field at the top may be a misspelling of)."""
    schema = _schema()
    spec_node = schema["nodes"][schema["roots"]["Workflow"]]["p"]["spec"]
    _check({k: v for k, v in spec.items() if k not in ignore}, spec_node, path, schema["nodes"], schema["template"],
           report, also_known=ignore)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check(value: Any, index: int, path: str, nodes: list[dict[str, Any]], template: int, report: Report, *,
           quantity: bool = False, also_known: frozenset[str] = frozenset()) -> None:
    if value is None:
        return
    budget.spend(1 + (len(path) >> 8))  # building paths costs too: a long key is copied into every child's
    node = nodes[index]
    if "s" in node:  # int-or-string; a float too, since quantities (cpu: 0.5) are written so and Argo reads them
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            report.error(path, f"must be an integer or a string, got {jsontypes.type_name(value)}")
        elif isinstance(value, str) and quantity and "{{" not in value and not quantities.is_quantity(value):
            shown = value if len(value) <= quantities.MAX_LENGTH else value[:quantities.MAX_LENGTH] + "..."
            report.error(path, f"{shown!r}: quantities must match the regular expression "
                               "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (e.g. 500m, 4Gi, 0.5)")
        return
    expected = node.get("t")
    if expected == "object" or (expected is None and "p" in node):
        if not isinstance(value, dict):
            report.error(path, f"must be of type object, got {jsontypes.type_name(value)}")
            return
        properties: dict[str, int] = node.get("p", {})
        holds_quantities = path.endswith(_QUANTITY_MAP_SUFFIXES)
        for key, item in value.items():
            child = _join(path, str(key))
            if key in properties:
                _check(item, properties[key], child, nodes, template, report, quantity=key == "sizeLimit")
            elif "a" in node:
                _check(item, node["a"], child, nodes, template, report, quantity=holds_quantities)
            elif "x" not in node and properties:
                report.error(child, f'unknown field "{key}"', did_you_mean(str(key), [*properties, *also_known]))
        for key in node.get("r", ()):
            if value.get(key) is None:
                report.warning(_join(path, key), REQUIRED_BY_CRD)
        return
    if expected == "array":
        if not isinstance(value, list):
            report.error(path, f"must be of type array, got {jsontypes.type_name(value)}")
            return
        if len(value) < node.get("n", 0):
            report.warning(path, f"should have at least {node['n']} items")  # the CRD's rule; Go decodes it
        for position, item in enumerate(value):
            _check(item, node["i"], f"{path}[{position}]", nodes, template, report)
        return
    if path.endswith(".inline") and "x" in node and isinstance(value, dict):
        _check(value, template, path, nodes, template, report)  # the CRD leaves recursive templates open
        return
    if expected == "string":
        if isinstance(value, dict | list) or (not isinstance(value, str) and not _ANY_STRING.search(path)):
            report.error(path, f"must be of type string, got {jsontypes.type_name(value)}")
    elif expected == "integer":
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            report.error(path, f"must be of type integer, got {jsontypes.type_name(value)}")
    elif expected == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            report.error(path, f"must be of type number, got {jsontypes.type_name(value)}")
    elif expected == "boolean" and not isinstance(value, bool):
        report.error(path, f"must be of type boolean, got {jsontypes.type_name(value)}")
    allowed = node.get("e")
    if allowed is None and expected == "string" and isinstance(value, str) and value and "{{" not in value:
        allowed = K8S_ENUMS.get(path.rpartition(".")[2])
    if allowed and not isinstance(value, dict | list) and value not in allowed \
            and not (isinstance(value, str) and "{{" in value):  # a parameter's value, resolved at run time
        supported = ", ".join(f'"{v}"' for v in allowed)
        # Go decodes any string: Argo's validator refuses only the values its own rules check (reported
        # there, in its words); the others fail when the CRD is the full one, or when the pod is created.
        report.warning(path, f'Unsupported value: "{value}": supported values: {supported}')
