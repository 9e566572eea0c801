"""Argo's ``ProcessArgs`` for validation: a template as the controller would see it.

Before Argo checks a template it substitutes what is known where it is called: global
variables (``{{workflow.parameters.x}}`` becomes its value, ``{{workflow.name}}`` a
placeholder), local ones (``{{pod.name}}``, ``{{retries}}``) and the template's inputs
(the caller's value, or a placeholder when any caller may pass anything). Names, actions
and references are then checked on the result, so a step named
``"{{inputs.parameters.x}}"`` or a resource ``action: "{{inputs.parameters.verb}}"`` is
valid, as in Argo. Expression tags (``{{=...}}``) are left alone.
"""

from __future__ import annotations

import itertools
from typing import Any

PLACEHOLDER_PREFIX = "placeholder-"


class Placeholders:
    """Unique stand-ins for values only known at run time (Argo's placeholder generator)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{PLACEHOLDER_PREFIX}{next(self._counter)}"


def is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PLACEHOLDER_PREFIX) and value[len(PLACEHOLDER_PREFIX):].isdigit()


def at_run_time(value: Any) -> bool:
    """Whether ``value`` holds a ``{{...}}`` tag or a placeholder: only known when the workflow runs."""
    text = value if isinstance(value, str) else str(value)
    return "{{" in text or PLACEHOLDER_PREFIX in text


def as_text(value: Any) -> str:
    """A parameter value as Argo's ``AnyString`` prints it (``true``, ``3``, ``0.5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def substitute(value: Any, replacements: dict[str, str]) -> Any:
    """``value`` with every simple ``{{tag}}`` named in ``replacements`` replaced; shares what is unchanged."""
    if isinstance(value, str):
        return _replace(value, replacements) if "{{" in value else value
    if isinstance(value, dict):
        changed = {key: substitute(item, replacements) for key, item in value.items()}
        return value if all(changed[key] is item for key, item in value.items()) else changed
    if isinstance(value, list):
        items = [substitute(item, replacements) for item in value]
        return value if all(new is old for new, old in zip(items, value, strict=True)) else items
    return value


def _replace(text: str, replacements: dict[str, str]) -> str:
    out: list[str] = []
    position = 0
    while (start := text.find("{{", position)) != -1:
        end = text.find("}}", start + 2)
        if end == -1:
            break
        tag = text[start + 2:end].strip()
        replacement = None if tag.startswith("=") else replacements.get(tag)
        out.append(text[position:start])
        out.append(text[start:end + 2] if replacement is None else replacement)
        position = end + 2
    out.append(text[position:])
    return "".join(out)
