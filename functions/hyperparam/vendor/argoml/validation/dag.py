"""DAG task dependencies: ``dependencies`` lists and ``depends`` expressions, cycles, ancestry.

``depends`` is a boolean expression over ``task.Result`` terms (``a.Succeeded && !b.Failed``,
or a bare ``a``, which expands to ``a.Succeeded || a.Skipped || a.Daemoned``); the task
names are read from it with Argo's own patterns, so the same expression yields the same
dependencies here as in the controller.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
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
    """A dependency cycle as a path ``[a, b, ..., a]``, or ``None``; mirrors Argo's search order.

    Argo's depth-first search, on an explicit stack: a chain of thousands of tasks listed last
    first would otherwise recurse once per task. ``path`` is the search's path without its root.
    """
    visited: set[str] = set()
    for root in graph:
        if root in visited:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack = [(root, iter(graph.get(root, [])))]
        while stack:
            name, deps = stack[-1]
            dep = next(deps, None)
            if dep is None:  # every dependency of `name` searched
                stack.pop()
                visited.add(name)
                if stack:
                    on_path.discard(path.pop())
            elif dep in on_path:
                return [*path, dep]
            elif dep not in visited:
                path.append(dep)
                on_path.add(dep)
                stack.append((dep, iter(graph.get(dep, []))))
    return None


def topological(graph: Mapping[str, list[str]]) -> list[str]:
    """The tasks in an order where each follows what it depends on (document order otherwise), as
    Argo sorts a DAG before checking its tasks; a cycle's tasks come last, in document order.

    Tasks are taken in rounds, a task in the round after its last dependency's; each round in
    document order. The rounds are found in one pass over the edges (Kahn's algorithm).
    """
    waiting = {name: {dep for dep in deps if dep in graph and dep != name} for name, deps in graph.items()}
    dependents: dict[str, list[str]] = {name: [] for name in waiting}
    for name, deps in waiting.items():
        for dep in deps:
            dependents[dep].append(name)
    missing = {name: len(deps) for name, deps in waiting.items()}
    round_of: dict[str, int] = {}
    ready, number = [name for name, count in missing.items() if not count], 0
    while ready:
        after: list[str] = []
        for name in ready:
            round_of[name] = number
            for dependent in dependents[name]:
                missing[dependent] -= 1
                if not missing[dependent]:
                    after.append(dependent)
        ready, number = after, number + 1
    position = {name: index for index, name in enumerate(waiting)}
    order = sorted(round_of, key=lambda name: (round_of[name], position[name]))
    return order + [name for name in waiting if name not in round_of]


class Ancestry:
    """Every task's transitive dependencies in an acyclic ``graph``, as one integer bitset per task.

    Each task's set is the union of its dependencies' sets and the dependencies themselves,
    built in topological order: a chain of n tasks costs n integer ORs of at most n bits
    (3,000 tasks: about a megabyte, a few milliseconds) instead of n² set insertions.
    Dependencies outside ``graph`` are ignored; for a cycle's tasks the sets are partial (a DAG
    with a cycle is refused for it, so its ancestry is not asked).
    """

    __slots__ = ("_bits", "_index", "_names")

    def __init__(self, graph: Mapping[str, list[str]]) -> None:
        self._names = topological(graph)
        self._index = {name: index for index, name in enumerate(self._names)}
        self._bits: dict[str, int] = {}
        for name in self._names:
            bits = 0
            for dep in graph[name]:
                if dep in self._index and dep != name:
                    bits |= self._bits.get(dep, 0) | 1 << self._index[dep]
            self._bits[name] = bits & ~(1 << self._index[name])

    def of(self, name: str) -> Ancestors:
        return Ancestors(self, self._bits.get(name, 0))


class Ancestors(AbstractSet[str]):
    """One task's ancestors, a read-only set over its :class:`Ancestry` bitset."""

    __slots__ = ("_ancestry", "_bits")

    def __init__(self, ancestry: Ancestry, bits: int) -> None:
        self._ancestry, self._bits = ancestry, bits

    def __contains__(self, name: object) -> bool:
        index = self._ancestry._index.get(name) if isinstance(name, str) else None
        return index is not None and bool(self._bits >> index & 1)

    def __len__(self) -> int:
        return self._bits.bit_count()

    def __iter__(self) -> Iterator[str]:
        names, bits = self._ancestry._names, self._bits
        return (name for index, name in enumerate(names) if bits >> index & 1)
