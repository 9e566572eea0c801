"""A structured label selector (``matchLabels``, ``matchExpressions``) as Kubernetes reads it.

Argo turns ``podGC.labelSelector`` into a selector with apimachinery's
``LabelSelectorAsSelector`` and refuses the workflow with that function's error, so this
gives the same first error in the same words (``"Bogus" is not a valid label selector
operator``, ``values: Invalid value: []string(nil): for 'in', 'notin' operators, values set
can't be empty``, ...).
"""

from __future__ import annotations

import json
import re
from typing import Any

from argoml.names import DNS_SUBDOMAIN

_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_NAME_HINT = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
              "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
              "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
_VALUE_HINT = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
               "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
               "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
_SUBDOMAIN_HINT = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                   "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                   "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def selector_error(selector: Any) -> str | None:
    """Why ``LabelSelectorAsSelector`` refuses ``selector``; ``None`` when it does not."""
    if not isinstance(selector, dict):
        return None
    labels = selector.get("matchLabels")
    for key, value in (labels.items() if isinstance(labels, dict) else ()):
        if problem := _requirement_error(str(key), "=", [value]):
            return problem
    expressions = selector.get("matchExpressions")
    for expression in (expressions if isinstance(expressions, list) else ()):
        if not isinstance(expression, dict):
            continue
        operator = str(expression.get("operator") or "")
        if operator not in OPERATORS:
            return f"{json.dumps(operator)} is not a valid label selector operator"
        values = expression.get("values")
        if problem := _requirement_error(str(expression.get("key") or ""), OPERATORS[operator],
                                         values if isinstance(values, list) and values else None):
            return problem
    return None


def _requirement_error(key: str, operator: str, values: list[Any] | None) -> str | None:
    """``labels.NewRequirement``'s errors, aggregated as apimachinery prints them."""
    errors = [f"key: Invalid value: {json.dumps(key)}: {message}" for message in qualified_name_errors(key)]
    count = len(values or [])
    if operator in ("in", "notin") and count == 0:
        errors.append(f"values: Invalid value: {_go_strings(values)}: for 'in', 'notin' operators, values set can't "
                      "be empty")
    elif operator == "=" and count != 1:
        errors.append(f"values: Invalid value: {_go_strings(values)}: exact-match compatibility requires one single "
                      "value")
    elif operator in ("exists", "!") and count != 0:
        errors.append(f"values: Invalid value: {_go_strings(values)}: values set must be empty for exists and does "
                      "not exist")
    for index, value in enumerate(values or []):
        for message in label_value_errors(str(value)):
            errors.append(f"values[{index}]: Invalid value: {json.dumps(str(value))}: {message}")
    if not errors:
        return None
    return errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]"


def qualified_name_errors(name: str) -> list[str]:
    """apimachinery's ``IsQualifiedName``: an optional DNS subdomain prefix, ``/``, a name part."""
    parts = name.split("/")
    if len(parts) > 2:
        return [f"a qualified name {_NAME_HINT} with an optional DNS subdomain prefix and '/' (e.g. "
                "'example.com/MyName')"]
    errors = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        elif len(prefix) > 253:
            errors.append("prefix part must be no more than 253 characters")
        elif not DNS_SUBDOMAIN.fullmatch(prefix):
            errors.append(f"prefix part {_SUBDOMAIN_HINT}")
    part = parts[-1]
    if not part:
        errors.append("name part must be non-empty")
    elif len(part) > 63:
        errors.append("name part must be no more than 63 characters")
    if part and not _NAME_PART.fullmatch(part):
        errors.append(f"name part {_NAME_HINT}")
    return errors


def label_value_errors(value: str) -> list[str]:
    errors = ["must be no more than 63 characters"] if len(value) > 63 else []
    if not _VALUE.fullmatch(value):
        errors.append(_VALUE_HINT)
    return errors


def _go_strings(values: list[Any] | None) -> str:
    """A string list as Go's ``%#v`` prints it: ``[]string(nil)``, ``[]string{"a", "b"}``."""
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(json.dumps(str(v)) for v in values) + "}"
