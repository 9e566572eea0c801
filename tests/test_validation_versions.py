"""The rules that follow the Argo version: which version (ARGO_VERSION, --argo-version, the
cluster's CRDs) and what differs (the single forms Argo 4 removed, the lists Argo 3.6 added)."""

from __future__ import annotations

import copy
import functools
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoml import kube
from argoml.cli import main
from argoml.dev.emulator import Emulator
from argoml.validation import VALIDATORS, DocumentResolver, Report, validate_object, versions
from argoml.validation.versions import ArgoVersion, ClusterDetector
from tests.clock import FakeClock
from tests.conftest import SHARED

V35, V37, V41 = ArgoVersion(3, 5), ArgoVersion(3, 7), ArgoVersion(4, 1)


def cron(spec: str) -> dict[str, Any]:
    return yaml.safe_load("apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nmetadata: {name: nightly}\nspec:\n"
                          + textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
                          + "\n  workflowSpec:\n    entrypoint: main\n    templates:\n"
                            "    - {name: main, container: {image: a}}\n")


def locked(sync: str) -> dict[str, Any]:
    return yaml.safe_load("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: wf}\nspec:\n"
                          f"  entrypoint: main\n  synchronization: {sync}\n"
                          "  templates: [{name: main, container: {image: a}}]\n")


def problems(report: Report) -> list[tuple[str, str, str]]:
    return [(p.severity, p.path, p.message) for p in report.problems]


# -- what differs --------------------------------------------------------------------------------

def test_argo_4_refuses_a_single_schedule_as_its_strict_decoding_does() -> None:
    report = validate_object(cron("schedule: '0 2 * * *'"), argo_version=V41)
    assert problems(report) == [
        ("error", "spec.schedule", 'unknown field "spec.schedule" (removed in Argo 4: use schedules)'),
        ("error", "spec.schedules", "cron workflow must have at least one schedule")]


def test_argo_3_6_and_3_7_run_a_single_schedule_with_a_deprecation_warning() -> None:
    report = validate_object(cron("schedule: '0 2 * * *'"), argo_version=V37)
    assert problems(report) == [("warning", "spec.schedule", "schedule is deprecated since Argo 3.6 and dropped by "
                                                             "later versions: use schedules: [...]")]


def test_argo_3_5_runs_a_single_schedule_and_knows_no_list() -> None:
    assert problems(validate_object(cron("schedule: '0 2 * * *'"), argo_version=V35)) == []
    report = validate_object(cron("schedules: ['0 2 * * *']"), argo_version=V35)
    assert ("error", "spec.schedules", 'unknown field "spec.schedules" (Argo 3.5 has schedule only)') \
        in problems(report)


def test_a_cron_workflow_without_a_schedule_is_refused_by_argo_4_and_run_by_3_7() -> None:
    assert problems(validate_object(cron("suspend: true"), argo_version=V41)) == [
        ("error", "spec.schedules", "cron workflow must have at least one schedule")]
    assert problems(validate_object(cron("suspend: true"), argo_version=V37)) == [
        ("warning", "spec.schedules", "cron workflow must have at least one schedule")]


def test_both_schedule_forms_are_refused_where_both_exist() -> None:
    report = validate_object(cron("schedule: '0 2 * * *'\nschedules: ['0 3 * * *']"), argo_version=V37)
    assert ("error", "spec.schedules", "cron workflow cant be configured with both Spec.Schedule and "
                                       "Spec.Schedules") in problems(report)


def test_argo_4_refuses_single_locks_in_workflows_and_templates() -> None:
    report = validate_object(locked("{mutex: {name: gpu}}"), argo_version=V41)
    assert problems(report) == [("error", "spec.synchronization.mutex",
                                 'unknown field "spec.synchronization.mutex" (removed in Argo 4: use mutexes)')]
    template_lock = locked("{mutexes: [{name: a}]}")
    template_lock["spec"]["templates"][0]["synchronization"] = {"semaphore": {"configMapKeyRef": {"name": "c",
                                                                                                  "key": "k"}}}
    assert problems(validate_object(template_lock, argo_version=V41)) == [
        ("error", "spec.templates[0].synchronization.semaphore",
         'unknown field "spec.templates[0].synchronization.semaphore" (removed in Argo 4: use semaphores)')]


def test_argo_3_5_knows_single_locks_only() -> None:
    assert problems(validate_object(locked("{mutex: {name: gpu}}"), argo_version=V35)) == []
    assert problems(validate_object(locked("{mutexes: [{name: gpu}]}"), argo_version=V35)) == [
        ("error", "spec.synchronization.mutexes",
         'unknown field "spec.synchronization.mutexes" (Argo 3.5 has mutex only)')]


def test_the_version_is_only_asked_for_when_a_rule_depends_on_it() -> None:
    def detect() -> ArgoVersion:
        raise AssertionError("asked for the version of a resource without version-dependent forms")

    unlocked = locked("{}")
    del unlocked["spec"]["synchronization"]
    assert validate_object(unlocked, argo_version=detect).ok
    asked: list[int] = []

    def counting() -> ArgoVersion:
        asked.append(1)
        return V41

    validate_object(locked("{mutex: {name: a}}"), argo_version=counting)
    assert asked == [1]


# -- which version ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "version"), [("3.6", ArgoVersion(3, 6)), ("v3.7.2", V37),
                                               ("4.1.0-rc1", V41), (" 4.0 ", ArgoVersion(4, 0))])
def test_versions_are_read_as_argo_names_them(text: str, version: ArgoVersion) -> None:
    assert ArgoVersion.parse(text) == version


@pytest.mark.parametrize("text", ["4", "latest", "3.x", ""])
def test_a_malformed_version_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an Argo version"):
        ArgoVersion.parse(text)


def test_argo_version_in_the_environment_chooses_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGO_VERSION", "4.1")
    assert not validate_object(cron("schedule: '0 2 * * *'")).ok
    monkeypatch.setenv("ARGO_VERSION", "not-a-version")  # ignored (and logged), not a crash
    assert validate_object(cron("schedule: '0 2 * * *'")).ok
    monkeypatch.delenv("ARGO_VERSION")
    assert validate_object(cron("schedule: '0 2 * * *'")).ok


def test_the_cli_takes_the_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "cron.yaml"
    manifest.write_text(yaml.safe_dump(cron("schedule: '0 2 * * *'")))
    assert main(["validate", "--argo-version", "3.7", str(manifest)]) == 0
    assert main(["validate", "--argo-version", "4.1", str(manifest)]) == 1
    assert f'{manifest}: spec.schedule: unknown field "spec.schedule"' in capsys.readouterr().out
    assert main(["validate", "--argo-version", "four", str(manifest)]) == 2


@functools.cache
def _argo_crd() -> dict[str, Any]:
    """Argo 4's CronWorkflow CRD from shared/crds, cut down to what tells the version."""
    text = (SHARED / "crds" / "argo-workflows" / "argoproj.io_cronworkflows.yaml").read_text()
    crd = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # 2.7 MB
    for version in crd["spec"]["versions"]:
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        spec["properties"] = {key: {"type": "string"} for key in spec["properties"]}
    return crd


def argo_crd(*, add: str | None = None, remove: str | None = None, labels: dict[str, str] | None = None
             ) -> dict[str, Any]:
    crd = copy.deepcopy(_argo_crd())
    fields = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    if add:
        fields[add] = {"type": "string"}
    if remove:
        del fields[remove]
    if labels:
        crd["metadata"]["labels"] = labels
    return crd


def test_the_crd_schema_tells_the_version() -> None:
    assert versions.from_crd(argo_crd()) == ArgoVersion(4, 0)
    assert versions.from_crd(argo_crd(add="schedule")) == V37
    assert versions.from_crd(argo_crd(add="schedule", remove="schedules")) == V35


def test_a_version_label_on_the_crd_wins_and_a_minimal_crd_tells_nothing() -> None:
    assert versions.from_crd(argo_crd(labels={"app.kubernetes.io/version": "v3.6.5"})) == ArgoVersion(3, 6)
    minimal = argo_crd()
    minimal["spec"]["versions"][0]["schema"] = {"openAPIV3Schema": {"type": "object",
                                                                    "x-kubernetes-preserve-unknown-fields": True}}
    assert versions.from_crd(minimal) is None
    assert versions.from_crd(None) is None


def crd_reads(cluster: Emulator) -> int:
    return sum(1 for c in cluster.calls if c.resource == "customresourcedefinitions")


def test_the_cluster_version_is_read_from_its_crd_once_per_ttl(cluster: Emulator) -> None:
    crds = cluster.store.type_of("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    cluster.store.create(crds, None, argo_crd())
    clock = FakeClock()
    detector = ClusterDetector(ttl=600, retry=60, clock=clock.monotonic)
    with kube.acting_as("validate"):
        assert detector.version() == ArgoVersion(4, 0)
        clock.now += 599
        assert detector.version() == ArgoVersion(4, 0)
        assert crd_reads(cluster) == 1
        clock.now += 1
        assert detector.version() == ArgoVersion(4, 0)
    assert crd_reads(cluster) == 2
    assert {(c.agent, c.verb, c.group, c.name) for c in cluster.calls} == {
        ("argoml-validate", "get", "apiextensions.k8s.io", "cronworkflows.argoproj.io")}


def test_a_cluster_without_argos_crd_or_that_fails_gets_the_default_rules(cluster: Emulator) -> None:
    clock = FakeClock()
    detector = ClusterDetector(ttl=600, retry=60, clock=clock.monotonic)
    with kube.acting_as("validate"):
        assert detector.version() == versions.DEFAULT  # no CRD: 404
        cluster.fail(503, resource="customresourcedefinitions")
        clock.now += 600
        assert detector.version() == versions.DEFAULT  # failed: retried after `retry`, not `ttl`
        cluster.store.create(cluster.store.type_of("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
                             None, argo_crd(add="schedule", remove="schedules"))
        clock.now += 59
        assert detector.version() == versions.DEFAULT
        clock.now += 1
        assert detector.version() == V35


def test_argos_own_examples_are_accepted_under_argo_4_rules_too() -> None:
    from tests.test_validation_examples import FILES, _documents

    documents = DocumentResolver([d for path in FILES for d in _documents(path)])
    refused = [(str(path), str(p)) for path in FILES for doc in _documents(path)
               if isinstance(doc, dict) and doc.get("kind") in VALIDATORS
               for p in validate_object(doc, documents, argo_version=V41).errors]
    assert refused == []
