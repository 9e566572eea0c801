"""Where validation gets what it needs: referenced templates (from the cluster or from files),
its CRD-derived schema, and the ``argoml validate`` command built on them."""

from __future__ import annotations

import io
import json
import socket
import threading
from pathlib import Path

import pytest
import yaml

from argoml import cli
from argoml.dev.emulator import Emulator
from argoml.errors import UpstreamError
from argoml.validation import ClusterResolver, validate_object
from argoml.validation.structure import SCHEMA_FILE
from tests.conftest import SHARED
from tools import argo_schema

WORKFLOW_TEMPLATE = {
    "apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
    "metadata": {"name": "library", "namespace": "ml"},
    "spec": {"templates": [{"name": "train", "inputs": {"parameters": [{"name": "lr"}]},
                            "container": {"image": "trainer", "args": ["{{inputs.parameters.lr}}"]}}]},
}


def workflow_using(template: str, namespace: str = "ml") -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"generateName": "sweep-", "namespace": namespace},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", "steps": [[{
                "name": "t", "templateRef": {"name": "library", "template": template},
                "arguments": {"parameters": [{"name": "lr", "value": "0.1"}]}}]]}]}}


def seed(cluster: Emulator) -> None:
    cluster.store.create(cluster.store.type_of("argoproj.io", "v1alpha1", "workflowtemplates"), "ml",
                         WORKFLOW_TEMPLATE)


def test_cluster_resolver_reads_templates_through_the_api(cluster: Emulator) -> None:
    seed(cluster)
    assert validate_object(workflow_using("train"), ClusterResolver()).problems == []
    reads = [c for c in cluster.calls if c.resource == "workflowtemplates"]
    assert [(c.verb, c.namespace, c.name) for c in reads] == [("get", "ml", "library")]


def test_cluster_resolver_reports_a_template_missing_from_the_namespace(cluster: Emulator) -> None:
    seed(cluster)
    report = validate_object(workflow_using("train", namespace="other"), ClusterResolver())
    assert [(p.path, p.message) for p in report.errors] == [
        ("spec.templates[0].steps[0][0].templateRef",
         'templates.main.steps[0].t workflowtemplates.argoproj.io "library" not found')]


def test_cluster_resolver_turns_api_failures_into_upstream_errors(cluster: Emulator) -> None:
    cluster.fail(503, method="GET", resource="workflowtemplates")
    with pytest.raises(UpstreamError, match=r"reading workflowtemplates\.argoproj\.io .*library"):
        validate_object(workflow_using("train"), ClusterResolver())


def test_cluster_resolver_gives_up_on_a_stalled_api_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A server that accepts connections and never answers: without a request timeout the
    # admission request would hang until Knative or the API server cut it off.
    from argoml.validation import resolver

    stalled = socket.socket()
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(1)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "stalled",
        "clusters": [{"name": "stalled", "cluster": {"server": f"http://127.0.0.1:{stalled.getsockname()[1]}"}}],
        "users": [{"name": "stalled", "user": {"token": "x"}}],
        "contexts": [{"name": "stalled", "context": {"cluster": "stalled", "user": "stalled"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setattr(resolver, "REQUEST_TIMEOUT", (0.2, 0.2))
    failures: list[BaseException] = []

    def resolve() -> None:
        try:
            ClusterResolver("ml").workflow_template("ml", "library")
        except UpstreamError as exc:
            failures.append(exc)

    worker = threading.Thread(target=resolve, daemon=True)
    with stalled:
        worker.start()
        worker.join(60)
    assert not worker.is_alive(), "the request to a stalled API server never timed out"
    assert "the Kubernetes API is unreachable" in str(failures[0])


def test_the_schema_generator_writes_the_file_the_validator_loads() -> None:
    assert SCHEMA_FILE.resolve() == argo_schema.OUTPUT


def test_the_schema_is_generated_from_argos_crds() -> None:
    generated = argo_schema.generate(SHARED / "crds" / "argo-workflows")
    assert json.loads(SCHEMA_FILE.read_text()) == generated, "run python -m tools.argo_schema <crds>"


def write(path: Path, *documents: dict) -> Path:
    path.write_text(yaml.safe_dump_all(documents))
    return path


def test_cli_accepts_valid_files_resolving_templates_beside_them(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "library.yaml", WORKFLOW_TEMPLATE)
    given = write(tmp_path / "sweep.yaml", workflow_using("train"))
    assert cli.main(["validate", str(given)]) == 0
    assert capsys.readouterr().out == "ok: 1 Argo resource in 1 file, no errors\n"


def test_cli_lists_every_problem_like_argo_lint_and_fails(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "library.yaml", WORKFLOW_TEMPLATE)
    broken = workflow_using("trian")
    broken["spec"]["entrypiont"] = "main"
    given = write(tmp_path / "sweep.yaml", broken, {"kind": "ConfigMap", "apiVersion": "v1"})
    assert cli.main(["validate", str(given)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f'{given}: spec.entrypiont: unknown field "entrypiont" (did you mean "entrypoint"?)',
        f"{given}: spec.templates[0].steps[0][0].templateRef.template: template reference library.trian not found",
    ]


def test_cli_resolves_templates_from_directories_given_with_templates(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "library" / "ml").mkdir(parents=True)
    write(tmp_path / "library" / "ml" / "training.yaml", WORKFLOW_TEMPLATE)
    (tmp_path / "workflows").mkdir()
    given = write(tmp_path / "workflows" / "sweep.yaml", workflow_using("train"))
    assert cli.main(["validate", str(given)]) == 1
    capsys.readouterr()
    assert cli.main(["validate", "--templates", str(tmp_path / "library"), str(given)]) == 0


def test_cli_numbers_documents_of_a_multi_document_file(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    given = write(tmp_path / "two.yaml", WORKFLOW_TEMPLATE, workflow_using("nope"))
    assert cli.main(["validate", str(given)]) == 1
    assert capsys.readouterr().out.startswith(f"{given}#2: spec.templates[0].steps[0][0].templateRef.template: ")


def test_cli_reads_standard_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(yaml.safe_dump(WORKFLOW_TEMPLATE)))
    assert cli.main(["validate", "-"]) == 0
    assert "ok: 1 Argo resource" in capsys.readouterr().out


def test_cli_reports_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    assert cli.main(["validate", str(bad), str(tmp_path / "missing.yaml")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{bad}: failed to parse: ")
    assert out[1].startswith(f"{tmp_path / 'missing.yaml'}: Can't read from file: ")


def test_cli_flags_a_misspelt_argo_kind_but_skips_other_kinds(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    manifests = tmp_path / "mixed.yaml"
    manifests.write_text("apiVersion: argoproj.io/v1alpha1\nkind: Workfow\nmetadata: {name: w}\nspec: {}\n---\n"
                         "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\n---\n"
                         "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    assert cli.main(["validate", str(manifests)]) == 1
    assert capsys.readouterr().out.splitlines() == [f"{manifests}: kind: unknown kind 'Workfow': did you mean "
                                                    "Workflow?"]
