"""The real kubectl works against the emulator as against a cluster (the ``make run`` playground).

Each test runs ``kubectl`` as a user would, with its own cache directory, against an
emulator that has the product's CRDs and the ``default`` namespace. Skipped where kubectl
is not installed (CI installs it).
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from argoml.dev.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (CI installs it; see .ci/run)")
MERGE = "application/merge-patch+json"


@pytest.fixture(scope="module")
def playground() -> Iterator[Emulator]:
    with Emulator(namespaces=["default"], crds=True) as emulator:
        yield emulator


class Kubectl:
    """``kubectl`` as a user runs it: this emulator's kubeconfig, a cache of its own, the repository as cwd."""

    def __init__(self, kubeconfig: Path, home: Path) -> None:
        self.env = {"KUBECONFIG": str(kubeconfig), "HOME": str(home), "PATH": "/usr/bin:/bin"}

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(KUBECTL), *args], env=self.env, capture_output=True, text=True, timeout=60,
                                cwd=ROOT)
        if ok:
            assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result


@pytest.fixture
def kubectl(playground: Emulator, tmp_path: Path) -> Kubectl:
    playground.reset()
    return Kubectl(playground.kubeconfig, tmp_path)


def _rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


def test_discovery_names_the_product_kinds_with_short_names_and_categories(kubectl: Kubectl) -> None:
    resources = {row[0]: row for row in _rows(kubectl("api-resources").stdout)[1:]}
    assert resources["hyperparamworkflows"][1] == "hparam,hpw"
    assert resources["workflows"][1:3] == ["wf", "argoproj.io/v1alpha1"]
    knative = _rows(kubectl("api-resources", "--api-group=serving.knative.dev").stdout)[1]
    assert knative[:2] == ["services", "kservice,ksvc"]
    assert kubectl("api-resources", "--categories=argoml", "-o", "name").stdout.split() == [
        "hyperparamworkflows.argoml.io"]


def test_apply_then_get_prints_the_crds_printer_columns(kubectl: Kubectl, playground: Emulator) -> None:
    applied = kubectl("apply", "-f", "examples/hparam.yaml").stdout
    assert applied.strip() == "hyperparamworkflow.argoml.io/example-hparam-sweep created"
    assert "unchanged" in kubectl("apply", "-f", "examples/hparam.yaml").stdout
    sweeps = playground.store.type_of("argoml.io", "v1alpha1", "hyperparamworkflows")
    playground.store.patch(sweeps, "default", "example-hparam-sweep",
                           {"status": {"phase": "Running", "trials": 15, "workflowName": "example-hparam-sweep",
                                       "bestTrial": {"trial": 3, "value": 0.93}, "trialsRunning": 5}},
                           MERGE, subresource="status")
    header, row = _rows(kubectl("get", "hparam").stdout)
    assert header == ["NAME", "ALGORITHM", "TRIALS", "WORKFLOW", "PHASE", "BEST", "RUNNING", "AGE"]
    assert row[:7] == ["example-hparam-sweep", "grid", "15", "example-hparam-sweep", "Running", "0.93", "5"]
    wide = _rows(kubectl("get", "hpw", "-o", "wide").stdout)[0]
    assert "SUCCEEDED" in wide and "FAILED" in wide


def test_get_wf_prints_argos_columns(kubectl: Kubectl, playground: Emulator) -> None:
    workflows = playground.store.type_of("argoproj.io", "v1alpha1", "workflows")
    playground.store.create(workflows, "default", {"metadata": {"name": "train"}, "spec": {"entrypoint": "main"},
                                                   "status": {"phase": "Succeeded", "message": "done"}})
    header, row = _rows(kubectl("get", "wf").stdout)
    assert header == ["NAME", "STATUS", "AGE", "MESSAGE"] and row[0:2] == ["train", "Succeeded"]
    assert row[-1] == "done"


def test_describe_shows_the_object_and_its_events(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "examples/hparam.yaml")
    described = kubectl("describe", "hparam", "example-hparam-sweep").stdout
    assert "Kind:         HyperparamWorkflow" in described and "Events:" in described


def test_delete_removes_the_object_and_a_second_delete_is_not_found(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "examples/hparam.yaml")
    assert '"example-hparam-sweep" deleted' in kubectl("delete", "hparam", "example-hparam-sweep").stdout
    again = kubectl("delete", "hparam", "example-hparam-sweep", ok=False)
    assert again.returncode == 1
    assert again.stderr.strip() == ('Error from server (NotFound): hyperparamworkflows.argoml.io '
                                    '"example-hparam-sweep" not found')


def test_create_namespace_then_objects_go_into_it(kubectl: Kubectl) -> None:
    assert kubectl("create", "namespace", "ml-team").stdout.strip() == "namespace/ml-team created"
    assert _rows(kubectl("get", "ns", "ml-team").stdout)[1][:2] == ["ml-team", "Active"]
    kubectl("apply", "-n", "ml-team", "-f", "examples/hparam.yaml")
    missing = kubectl("apply", "-n", "elsewhere", "-f", "examples/hparam.yaml", ok=False)
    assert 'namespaces "elsewhere" not found' in missing.stderr
    kubectl("create", "configmap", "settings", "-n", "ml-team", "--from-literal=lr=0.1")
    assert kubectl("get", "cm", "settings", "-n", "ml-team", "-o", "jsonpath={.data.lr}").stdout == "0.1"


def test_an_unknown_field_is_refused_by_name(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "typo.yaml"
    manifest.write_text((ROOT / "examples" / "hparam.yaml").read_text() + "hyperparmas: {}\n")
    refused = kubectl("apply", "-f", str(manifest), ok=False)
    assert refused.returncode == 1 and 'unknown field "hyperparmas"' in refused.stderr


def test_watch_prints_each_change_as_a_row(kubectl: Kubectl, playground: Emulator) -> None:
    kubectl("apply", "-f", "examples/hparam.yaml")
    watcher = subprocess.Popen([str(KUBECTL), "get", "hparam", "-w"], env=kubectl.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert watcher.stdout is not None
    stdout = watcher.stdout

    def read() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        header, first = lines.get(timeout=30).split(), lines.get(timeout=30).split()
        sweeps = playground.store.type_of("argoml.io", "v1alpha1", "hyperparamworkflows")
        playground.store.patch(sweeps, "default", "example-hparam-sweep", {"status": {"phase": "Succeeded"}},
                               MERGE, subresource="status")
        changed = lines.get(timeout=30).split()
    finally:
        watcher.terminate()
        watcher.communicate(timeout=10)
    assert header[0] == "NAME" and first[0] == "example-hparam-sweep" and "Succeeded" not in first
    assert changed[0] == "example-hparam-sweep" and "Succeeded" in changed


def test_explain_reads_the_crd_schema(kubectl: Kubectl) -> None:
    explained = kubectl("explain", "hparam.spec.algorithm").stdout
    assert "How trials are drawn from the search space." in explained and "ENUM:\n    grid\n" in explained


def test_get_crd_lists_the_installed_crds(kubectl: Kubectl) -> None:
    names = kubectl("get", "crd", "-o", "name").stdout.split()
    assert "customresourcedefinition.apiextensions.k8s.io/hyperparamworkflows.argoml.io" in names
    assert "customresourcedefinition.apiextensions.k8s.io/workflows.argoproj.io" in names


def test_an_unknown_kind_and_an_unknown_path_answer_as_an_api_server(kubectl: Kubectl) -> None:
    unknown = kubectl("get", "gizmos", ok=False)
    assert unknown.stderr.strip() == 'error: the server doesn\'t have a resource type "gizmos"'
    raw = kubectl("get", "--raw", "/apis/argoml.io/v1alpha1/namespaces/default/gizmos", ok=False)
    assert "NotFound" in raw.stderr and "500" not in raw.stderr


def test_server_side_apply_creates_then_updates(kubectl: Kubectl) -> None:
    assert "serverside-applied" in kubectl("apply", "--server-side", "-f", "examples/hparam.yaml").stdout
    assert "serverside-applied" in kubectl("apply", "--server-side", "-f", "examples/hparam.yaml").stdout
