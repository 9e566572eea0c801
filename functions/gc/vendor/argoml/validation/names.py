"""Argo's naming rules for templates, steps, tasks, parameters and artifacts."""

from __future__ import annotations

import re
from typing import Any

_FIELD_NAME = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")
_PARAM_NAME = re.compile(r"[-a-zA-Z0-9_]+")
FIELD_NAME_MAX = 128
FIELD_NAME_HINT = ("name must consist of alpha-numeric characters or '-', and must start with an alpha-numeric "
                   "character (e.g. My-name1-2, 123-NAME)")
PARAM_NAME_HINT = ("Parameter/Artifact name must consist of alpha-numeric characters, '_' or '-' "
                   "e.g. my_param_1, MY-PARAM-1")


def field_name_errors(name: str) -> list[str]:
    """Why ``name`` is not a valid template, step or task name (empty when it is)."""
    errors = []
    if len(name) > FIELD_NAME_MAX:
        errors.append(f"must be no more than {FIELD_NAME_MAX} characters")
    if not _FIELD_NAME.fullmatch(name):
        errors.append(FIELD_NAME_HINT)
    return errors


def param_name_errors(name: str) -> list[str]:
    return [] if _PARAM_NAME.fullmatch(name) else [PARAM_NAME_HINT]


def list_name_problems(items: Any, *, params: bool = False) -> list[tuple[int, str]]:
    """Argo's ``validateWorkflowFieldNames``: every item named, validly, and uniquely.

    Returns ``(index, message suffix)`` pairs; the caller prefixes the list's path, as
    Argo does (``spec.templates`` + ``[1].name 'x' is not unique``).
    """
    problems: list[tuple[int, str]] = []
    seen: set[str] = set()
    for index, item in enumerate(items if isinstance(items, list) else []):
        name = item.get("name") if isinstance(item, dict) else None
        if not name:
            problems.append((index, f"[{index}].name is required"))
            continue
        name = str(name)
        if "{{=" in name:  # an expression, evaluated at run time
            seen.add(name)
            continue
        errors = param_name_errors(name) if params else field_name_errors(name)
        if errors:
            problems.append((index, f"[{index}].name: '{name}' is invalid: {';'.join(errors)}"))
        elif name in seen:
            problems.append((index, f"[{index}].name '{name}' is not unique"))
        seen.add(name)
    return problems


_METRIC_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def metric_name_ok(name: str) -> bool:
    """Prometheus metric and label names, without ``:`` (Argo's ``IsValidMetricName``)."""
    return bool(_METRIC_NAME.fullmatch(name))
