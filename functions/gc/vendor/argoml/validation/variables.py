"""``{{...}}`` references: finding them in a template and checking them against a scope.

Argo renders templates with ``{{`` / ``}}`` tags. Simple tags (``{{inputs.parameters.x}}``)
must name a variable in scope where they are used; expression tags (``{{=...}}``) are
evaluated at run time and not checked, as in Argo. Only tags under Argo's variable
roots are checked (``item.``, ``steps.``, ``inputs.``, ``outputs.``, ``pod.``,
``workflow.``, ``tasks.``); anything else may be a user's own templating.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from argoml.validation import budget

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


class Located:
    """Strings found in a document, each with its place; a place's path is formatted only when asked for.

    Formatting every path up front costs the document's depth per string found: a
    megabyte of tagged strings nested deep took tens of seconds, and only the few strings
    with a problem ever need theirs.
    """

    def __init__(self, root: str) -> None:
        self._links: list[tuple[int, str | int]] = [(-1, root)]
        self._paths: dict[int, str] = {0: root}
        self.found: list[tuple[int, str]] = []

    def link(self, parent: int, label: str | int) -> int:
        self._links.append((parent, label))
        return len(self._links) - 1

    def path(self, link: int) -> str:
        """The path of ``link``; each place's path is built once, from its parent's."""
        chain = []
        while link not in self._paths:
            chain.append(link)
            link = self._links[link][0]
        path = self._paths[link]
        for step in reversed(chain):
            label = self._links[step][1]
            path = f"{path}[{label}]" if isinstance(label, int) else f"{path}.{label}" if path else label
            self._paths[step] = path
        budget.spend(1 + (len(path) >> 8))
        return path


def tagged_strings(value: Any, path: str = "") -> Located:
    """Every string holding ``{{`` in a decoded YAML/JSON value (map keys included), with its place.

    An explicit stack with parent links keeps this walk cheap on large workflows: a path is
    only formatted for the strings asked about (:meth:`Located.path`).
    """
    located = Located(path)
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, link = stack.pop()
        budget.spend()
        if isinstance(item, str):
            if "{{" in item:
                located.found.append((link, item))
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                if isinstance(child, str | dict | list):
                    stack.append((child, located.link(link, str(key))))
                if isinstance(key, str) and "{{" in key:
                    stack.append((key, located.link(link, key)))
        elif isinstance(item, list):
            for index in range(len(item) - 1, -1, -1):
                if isinstance(item[index], str | dict | list):
                    stack.append((item[index], located.link(link, index)))
    return located


def is_parameter(text: str) -> bool:
    """Whether ``text`` contains a simple ``{{a.b.c}}`` reference (Argo's ``isParameter``)."""
    return bool(PARAMETER.search(text))


@dataclass
class Scope:
    """The variables resolvable at one place; ``globals`` are shared across the workflow.

    A :meth:`child` scope sees everything its parent has (and what the parent gains later)
    without copying it: a DAG of a hundred tasks would otherwise copy its scope a hundred
    times. ``ancestors`` lets a DAG task see what its ancestors offer, looked up lazily.
    """

    names: set[str] = field(default_factory=set)
    globals: set[str] = field(default_factory=set)
    workflow_template: bool = False
    parent: Scope | None = None
    ancestors: Mapping[str, set[str]] = field(default_factory=dict)

    def child(self) -> Scope:
        return Scope(set(), self.globals, self.workflow_template, parent=self)

    def __contains__(self, name: str) -> bool:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return True
            if scope.ancestors and name.startswith("tasks."):
                offered = scope.ancestors.get(name.split(".", 2)[1])
                if offered is not None and name in offered:
                    return True
            scope = scope.parent
        return False

    def unresolved(self, value: Any, path: str) -> Iterator[tuple[str, str, str]]:
        """The tags in ``value`` (found at ``path``) this scope cannot resolve: (path, Argo's message, a hint)."""
        any_item = ANY_ITEM in self
        located = tagged_strings(value, path)
        for where, text in located.found:
            try:
                found = list(tags(text))
            except UnclosedTag as exc:
                yield located.path(where), str(exc), ""
                continue
            for tag in found:
                if tag.startswith("="):
                    continue
                name = tag.strip()
                if not name.startswith(ROOTS) or name in self.globals or name in self:
                    continue
                if (name == "item" or name.startswith("item.")) and any_item:
                    continue
                if name.startswith("workflow.outputs.parameters.") and ANY_WORKFLOW_OUTPUT_PARAMETER in self:
                    continue
                if name.startswith("workflow.outputs.artifacts.") and (ANY_WORKFLOW_OUTPUT_ARTIFACT in self
                                                                       or ANY_WORKFLOW_OUTPUT_ARTIFACT in self.globals):
                    continue
                if name.startswith(_RUNTIME_PREFIXES):
                    continue
                if name.startswith("workflow.parameters") and self.workflow_template:
                    continue
                yield located.path(where), f"failed to resolve {{{{{tag}}}}}", self._offered(name)

    def _offered(self, name: str) -> str:
        """For an unresolved name: which ``{{item...}}`` names the loop does offer, or the name probably meant."""
        known: set[str] = set(self.globals)
        scope: Scope | None = self
        while scope is not None:
            known |= scope.names
            scope = scope.parent
        known = {n for n in known if "*" not in n}
        items = sorted(n for n in known if n.startswith("item."))
        close = difflib.get_close_matches(name, items if name.startswith("item.") else sorted(known), n=1,
                                          cutoff=0.75)
        hint = f'did you mean "{{{{{close[0]}}}}}"?' if close else ""
        if name.startswith("item.") and items:
            offered = "the loop offers " + ", ".join(f"{{{{{n}}}}}" for n in items)
            return f"{offered}; {hint}" if hint else offered
        return hint


def loop_items_outside_loop(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """``{{item}}`` / ``{{item.x}}`` tags in a step or task that has no loop: (path, message)."""
    located = tagged_strings(value, path)
    for where, text in located.found:
        try:
            found = list(tags(text))
        except UnclosedTag:
            continue
        for tag in found:
            name = tag.strip()
            if name == "item" or name.startswith("item."):
                yield located.path(where), f"failed to resolve {{{{{tag}}}}}"
