"""Every workflow in Argo's own examples is accepted: zero false positives.

The examples (Argo's ``examples/`` directory, all valid) are read in place from the shared
data; a ``templateRef`` or ``workflowTemplateRef`` in one of them is resolved from the
WorkflowTemplates and ClusterWorkflowTemplates found alongside, as ``argoml validate``
does with the files around the ones it is given.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoml.validation import VALIDATORS, DocumentResolver, validate_object
from tests.conftest import SHARED

EXAMPLES = SHARED / "argo-examples"
FILES = sorted(EXAMPLES.rglob("*.yaml"))


def _documents(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.fixture(scope="module")
def resolver() -> DocumentResolver:
    return DocumentResolver(d for path in FILES for d in _documents(path))


def test_the_examples_are_there() -> None:
    assert len(FILES) > 200, f"expected Argo's examples under {EXAMPLES}"


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(EXAMPLES)) for p in FILES])
def test_argo_example_is_accepted(path: Path, resolver: DocumentResolver) -> None:
    for document in _documents(path):
        if document.get("kind") not in VALIDATORS:
            continue  # ConfigMaps, PVCs and other manifests that sit beside the workflows
        report = validate_object(document, resolver)
        assert report.problems == [], "\n".join(map(str, report.problems))


def test_templates_are_resolved_from_the_files_alongside(resolver: DocumentResolver) -> None:
    """The corpus does use templateRef; without the templates alongside it would be rejected."""
    referencing = [d for path in FILES for d in _documents(path)
                   if d.get("kind") == "Workflow" and "templateRef" in yaml.safe_dump(d)]
    assert referencing
    unresolved = [validate_object(d) for d in referencing]
    assert any(not report.ok for report in unresolved)
    assert all(validate_object(d, resolver).ok for d in referencing)


def _mutations(document: Any, rnd: random.Random) -> Any:
    """``document`` with one to three values, anywhere in it, replaced by a value of another shape."""
    mutated = copy.deepcopy(document)
    locations: list[tuple[Any, Any]] = []
    stack = [mutated]
    while stack:
        node = stack.pop()
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            locations.append((node, key))
            stack.append(child)
    for parent, key in rnd.sample(locations, min(len(locations), rnd.randint(1, 3))):
        parent[key] = copy.deepcopy(rnd.choice(SHAPES))
    return mutated


SHAPES: list[Any] = [None, 1, 2.5, True, "x", "{{item}}", [], [1], [[]], [{}], {}, {"a": 1}]


def test_malformed_resources_are_reported_not_crashed_on(resolver: DocumentResolver) -> None:
    """The webhook must answer every resource with a decision, never a 500: the examples with
    random values swapped for values of other shapes (a fixed seed, so the same cases each run)."""
    rnd = random.Random(20261128)
    documents = [d for path in FILES for d in _documents(path) if d.get("kind") in VALIDATORS]
    rejected = 0
    for _ in range(1500):
        report = validate_object(_mutations(rnd.choice(documents), rnd), resolver)
        rejected += not report.ok
    assert rejected > 500  # most such changes are caught, the rest happen to stay valid
