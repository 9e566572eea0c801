"""``{{...}}`` references: finding them in a template and checking them against a scope.

Argo renders templates with ``{{`` / ``}}`` tags. Simple tags (``{{inputs.parameters.x}}``)
must name a variable in scope where they are used; expression tags (``{{=...}}``) are
evaluated at run time and not checked, as in Argo. Only tags under Argo's variable
roots are checked (``item.``, ``steps.``, ``inputs.``, ``outputs.``, ``pod.``,
``workflow.``, ``tasks.``); anything else may be a user's own templating.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

ROOTS = ("item.", "steps.", "inputs.", "outputs.", "pod.", "workflow.", "tasks.")
# Resolved at run time whatever the template says (Argo's resolveAllVariables).
_RUNTIME_PREFIXES = ("outputs.", "workflow.creationTimestamp", "workflow.scheduledTime", "workflow.duration",
                     "tasks.name", "steps.name", "node.name")
ANY_ITEM = "item.*"
ANY_WORKFLOW_OUTPUT_PARAMETER = "workflow.outputs.parameters.*"
ANY_WORKFLOW_OUTPUT_ARTIFACT = "workflow.outputs.artifacts.*"
PARAMETER = re.compile(r"\{\{[-a-zA-Z0-9]+(\.[-a-zA-Z0-9_]+)*\}\}")


class UnclosedTag(ValueError):
    pass


def tags(text: str) -> Iterator[str]:
    """Every ``{{tag}}`` in ``text`` (without the braces), as Go's fasttemplate splits them."""
    start = text.find("{{")
    while start != -1:
        end = text.find("}}", start + 2)
        if end == -1:
            raise UnclosedTag(f'Cannot find end tag="}}}}" in the template="{text}" starting from "{text[start:]}"')
        yield text[start + 2:end]
        start = text.find("{{", end + 2)


def tagged_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string holding ``{{`` in a decoded YAML/JSON value (map keys included), with its path.

    Paths are only formatted for the strings found, which keeps the walk over a large
    workflow cheap.
    """
    parts: list[str] = [path]
    yield from _tagged(value, parts)


def _tagged(value: Any, parts: list[str]) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if "{{" in value:
            yield _format(parts), value
    elif isinstance(value, dict):
        for key, item in value.items():
            parts.append(f".{key}")
            if isinstance(key, str) and "{{" in key:
                yield _format(parts), key
            if isinstance(item, str | dict | list):
                yield from _tagged(item, parts)
            parts.pop()
    elif isinstance(value, list):
        for index, item in enumerate(value):
            parts.append(f"[{index}]")
            if isinstance(item, str | dict | list):
                yield from _tagged(item, parts)
            parts.pop()


def _format(parts: list[str]) -> str:
    return "".join(parts).lstrip(".")


def is_parameter(text: str) -> bool:
    """Whether ``text`` contains a simple ``{{a.b.c}}`` reference (Argo's ``isParameter``)."""
    return bool(PARAMETER.search(text))


@dataclass
class Scope:
    """The variables resolvable at one place; ``globals`` are shared across the workflow."""

    names: set[str] = field(default_factory=set)
    globals: set[str] = field(default_factory=set)
    workflow_template: bool = False

    def copy(self) -> Scope:
        return Scope(set(self.names), self.globals, self.workflow_template)

    def unresolved(self, value: Any, path: str) -> Iterator[tuple[str, str]]:
        """The tags in ``value`` (found at ``path``) this scope cannot resolve: (path, Argo's message)."""
        any_item = ANY_ITEM in self.names
        for where, text in tagged_strings(value, path):
            try:
                found = list(tags(text))
            except UnclosedTag as exc:
                yield where, str(exc)
                continue
            for tag in found:
                if tag.startswith("="):
                    continue
                name = tag.strip()
                if not name.startswith(ROOTS) or name in self.names or name in self.globals:
                    continue
                if (name == "item" or name.startswith("item.")) and any_item:
                    continue
                if name.startswith("workflow.outputs.parameters.") and ANY_WORKFLOW_OUTPUT_PARAMETER in self.names:
                    continue
                if name.startswith("workflow.outputs.artifacts.") and ANY_WORKFLOW_OUTPUT_ARTIFACT in self.names:
                    continue
                if name.startswith(_RUNTIME_PREFIXES):
                    continue
                if name.startswith("workflow.parameters") and self.workflow_template:
                    continue
                yield where, f"failed to resolve {{{{{tag}}}}}"


def loop_items_outside_loop(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """``{{item}}`` / ``{{item.x}}`` tags in a step or task that has no loop: (path, message)."""
    for where, text in tagged_strings(value, path):
        try:
            found = list(tags(text))
        except UnclosedTag:
            continue
        for tag in found:
            name = tag.strip()
            if name == "item" or name.startswith("item."):
                yield where, f"failed to resolve {{{{{tag}}}}}"
