"""Argo manifests for the validation tests: a Workflow around a spec, the templates it may reference, the problems.

:data:`LIBRARY` holds the WorkflowTemplates (``library``, valid; ``faulty``, with a broken
template) and the ClusterWorkflowTemplate (``shared``) that test workflows reference
(``templateRef``, ``workflowTemplateRef``); :func:`validate` checks a manifest against them as
the webhook would.
"""

from __future__ import annotations

import copy
import textwrap
from typing import Any

import yaml

from argoml import manifests
from argoml.validation import DocumentResolver, Report, validate_object
from tests.conftest import ROOT

LIBRARY = """
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: library}
spec:
  templates:
  - name: echo
    inputs: {parameters: [{name: message}]}
    container: {image: alpine, args: ["{{inputs.parameters.message}}"]}
  - name: export
    container: {image: alpine}
    outputs:
      artifacts: [{name: out, path: /tmp/out, globalName: "{{workflow.name}}-out"}]
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: faulty}
spec:
  templates:
  - name: broken
    container: {image: ""}
---
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata: {name: shared}
spec:
  entrypoint: hello
  arguments: {parameters: [{name: who, value: world}]}
  templates:
  - name: hello
    container: {image: alpine, args: ["{{workflow.parameters.who}}"]}
"""


def workflow(spec: str, kind: str = "Workflow") -> str:
    """A manifest of ``kind`` named ``wf`` around ``spec`` (YAML, any indentation)."""
    return (f"apiVersion: argoproj.io/v1alpha1\nkind: {kind}\nmetadata: {{name: wf}}\nspec:\n"
            + textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ") + "\n")


def validate(manifest: str) -> Report:
    """The report on ``manifest``, with :data:`LIBRARY`'s templates resolvable."""
    documents = [d for d in yaml.safe_load_all(textwrap.dedent(manifest) + LIBRARY) if d]
    return validate_object(documents[0], DocumentResolver(documents[1:]))


def errors(report: Report) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in report.errors]


def warnings(report: Report) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in report.warnings]


def example(name: str) -> dict[str, Any]:
    """The first document of ``examples/<name>``, read as kubectl reads it."""
    document: dict[str, Any] = manifests.load_all((ROOT / "examples" / name).read_text())[0]
    return document


def with_spec(obj: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A copy of ``obj`` with ``spec`` fields set."""
    changed = copy.deepcopy(obj)
    changed["spec"].update(spec)
    return changed


def problems(obj: dict[str, Any], severity: str = "error") -> list[tuple[str, str]]:
    """The (path, message) of each problem of ``severity`` that validating ``obj`` finds."""
    return [(p.path, p.message) for p in validate_object(obj).problems if p.severity == severity]
