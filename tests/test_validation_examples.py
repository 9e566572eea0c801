"""Every workflow in Argo's own examples is accepted: zero false positives.

The examples (Argo's ``examples/`` directory, all valid) are read in place from the shared
data; a ``templateRef`` or ``workflowTemplateRef`` in one of them is resolved from the
WorkflowTemplates and ClusterWorkflowTemplates found alongside, as ``argoml validate``
does with the files around the ones it is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SHARED

from argoml.validation import VALIDATORS, DocumentResolver, validate_object

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
