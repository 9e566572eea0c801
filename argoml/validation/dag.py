"""DAG task dependencies: ``dependencies`` lists and ``depends`` expressions, cycles, ancestry.

``depends`` is a boolean expression over ``task.Result`` terms (``a.Succeeded && !b.Failed``,
or a bare ``a``, which expands to ``a.Succeeded || a.Skipped || a.Daemoned``); the task
names are read from it with Argo's own patterns, so the same expression yields the same
dependencies here as in the controller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TASK = re.compile(r"([a-zA-Z0-9][-a-zA-Z0-9]*?\.[A-Z][a-zA-Z]+)|([a-zA-Z0-9][-a-zA-Z0-9]*)")
_RESULT = re.compile(r"([a-zA-Z0-9][-a-zA-Z0-9]*?\.[A-Z][a-zA-Z]+)")
RESULTS = frozenset({"Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed"})
ITEM_RESULTS = frozenset({"AnySucceeded", "AllFailed"})


def dependencies(task: Mapping[str, Any]) -> dict[str, bool]:
    """The tasks ``task`` depends on, each mapped to whether an items-based result is used."""
    depends = task.get("depends")
    if not depends:
        listed = task.get("dependencies")
        return {str(name): False for name in (listed if isinstance(listed, list) else [])}
    found: dict[str, bool] = {}
    for match in _TASK.finditer(str(depends)):
        if match.group(1):
            name, result = match.group(1).split(".", 1)
            found[name] = found.get(name, False) or result in ITEM_RESULTS
        else:
            found.setdefault(match.group(2), False)
    return found


def invalid_results(task: Mapping[str, Any]) -> list[str]:
    """Argo's ``ValidateTaskResults``: every ``task.Result`` term names a known result."""
    problems = []
    for term in _RESULT.findall(str(task.get("depends") or "")):
        name, result = term.split(".", 1)
        if result not in RESULTS:
            problems.append(f"task result '{result}' for task '{name}' is invalid")
    return problems


def first_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a path ``[a, b, ..., a]``, or ``None``; mirrors Argo's search order."""
    visited: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in visited:
            return None
        for dep in graph.get(name, []):
            if dep in path:
                return [*path, dep]
            found = visit(dep, [*path, dep])
            if found:
                return found
        visited.add(name)
        return None

    for name in graph:
        cycle = visit(name, [])
        if cycle:
            return cycle
    return None


def topological(graph: Mapping[str, list[str]]) -> list[str]:
    """The tasks in an order where each follows what it depends on (document order otherwise), as
    Argo sorts a DAG before checking its tasks; a cycle's tasks come last, in document order."""
    waiting = {name: {dep for dep in deps if dep in graph and dep != name} for name, deps in graph.items()}
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(waiting):
        ready = [name for name, deps in waiting.items() if name not in done and deps <= done]
        if not ready:
            order += [name for name in waiting if name not in done]
            break
        order += ready
        done.update(ready)
    return order


def ancestries(graph: Mapping[str, list[str]]) -> dict[str, set[str]]:
    """Every task's transitive dependencies, for an acyclic ``graph``."""
    found: dict[str, set[str]] = {}

    def of(name: str) -> set[str]:
        if name not in found:
            found[name] = set()  # guards against a cycle the caller did not rule out
            ancestors: set[str] = set()
            for dep in graph.get(name, []):
                ancestors.add(dep)
                ancestors |= of(dep)
            ancestors.discard(name)
            found[name] = ancestors
        return found[name]

    for name in graph:
        of(name)
    return found
