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
import json
import re
from collections.abc import Callable
from typing import Any

PLACEHOLDER_PREFIX = "placeholder-"
_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)  # fasttemplate's: up to the first }} after {{


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


def substitute(value: Any, lookup: Callable[[str], str | None]) -> Any:
    """``value`` with every simple ``{{tag}}`` that ``lookup`` knows replaced (``value`` itself if none is).

    As Argo does it, on the JSON text: one C-speed encoding, a scan for tags, and a decoding
    only when something was replaced.
    """
    text = json.dumps(value, default=str)
    if "{{" not in text:
        return value
    replaced = False

    def replace(match: re.Match[str]) -> str:
        nonlocal replaced
        tag = match.group(1).strip()
        found = None if tag.startswith("=") else lookup(tag)
        if found is None:
            return match.group(0)
        replaced = True
        return json.dumps(found)[1:-1]

    text = _TAG.sub(replace, text)
    return json.loads(text) if replaced else value
