"""``make run``'s cluster: the configured one, a clear stop when it is broken, else the playground.

Also the API server protocol the playground serves beyond what the ``kubernetes`` client uses:
Tables, aggregated discovery, OpenAPI v3, and 404/405 ``Status`` answers (kubectl itself is
driven in test_kubectl.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from argoml.dev import playground
from argoml.dev.emulator import Emulator
from tests.conftest import SHARED
from tools import playground_crds

ROOT = Path(__file__).resolve().parents[1]

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def _get(url: str, accept: str = "application/json", method: str = "GET") -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, headers={"Accept": accept}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No kubeconfig anywhere: an empty HOME, no KUBECONFIG, and out/ under a scratch directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_broken_kubeconfig_stops_with_one_message_naming_it(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = isolated / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Config\nclusters: 7\n")
    monkeypatch.setenv("KUBECONFIG", str(broken))
    with pytest.raises(playground.ClusterProblem, match=f"^{broken} is not a usable kubeconfig: "):
        playground.configured_kubeconfig()


def test_a_missing_kubeconfig_file_is_named(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(isolated / "nope.yaml"))
    with pytest.raises(playground.ClusterProblem, match="no such file"):
        playground.configured_kubeconfig()


def test_a_cluster_that_does_not_answer_is_named(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator() as emulator:
        kubeconfig = isolated / "gone.yaml"
        kubeconfig.write_text(emulator.kubeconfig.read_text())
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    with pytest.raises(playground.ClusterProblem, match=r"does not answer"):
        playground.configured_kubeconfig()


def test_a_working_kubeconfig_is_used(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator() as emulator:
        monkeypatch.setenv("KUBECONFIG", str(emulator.kubeconfig))
        with playground.cluster() as cluster:
            assert cluster.kubeconfig == emulator.kubeconfig and cluster.emulator is None


def test_make_run_with_a_broken_kubeconfig_says_so_once_without_a_traceback(isolated: Path) -> None:
    broken = isolated / "broken.yaml"
    broken.write_text(": not yaml : [")
    result = subprocess.run([sys.executable, "-m", "argoml.dev.stack"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "KUBECONFIG": str(broken), "PYTHONPATH": str(ROOT)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"make run: {broken} is not a usable kubeconfig")


def test_without_a_kubeconfig_the_playground_serves_the_product_kinds(isolated: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(playground.PORT_ENV, "0")
    with playground.cluster() as cluster:
        assert cluster.emulator is not None and cluster.kubeconfig == (isolated / "out" / "kubeconfig").resolve()
        monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
        from argoml import kube

        namespaces = {ns.metadata.name for ns in kube.core().list_namespace().items}
        assert set(playground.NAMESPACES) <= namespaces
        sweeps = kube.custom().list_namespaced_custom_object("argoml.io", "v1alpha1", "default", "hyperparamworkflows")
        assert sweeps["items"] == []
        review = cluster.emulator.handler._token_review({"token": playground.TOKEN})
        assert review["authenticated"] and playground.ADMINS in review["user"]["groups"]
        assert cluster.emulator.access.allows(playground.USER, "get", "argoproj.io", "workflows", "ml-team",
                                              review["user"]["groups"])  # the TensorBoard page lets them in
    assert playground.configured_kubeconfig() is None  # its own kubeconfig, left behind, means "start it again"


def test_a_taken_port_is_one_clear_problem(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator() as emulator:
        monkeypatch.setenv(playground.PORT_ENV, emulator.url.rsplit(":", 1)[1])
        with pytest.raises(playground.ClusterProblem, match=r"cannot serve the playground's API on 127\.0\.0\.1:"), \
                playground.cluster():
            pass


def test_lists_answer_as_tables_with_the_printer_columns(cluster: Emulator) -> None:
    workflows = cluster.store.type_of("argoproj.io", "v1alpha1", "workflows")
    cluster.store.create(workflows, "ml", {"metadata": {"name": "w"}, "status": {"phase": "Running"}})
    status, _, table = _get(f"{cluster.url}/apis/argoproj.io/v1alpha1/namespaces/ml/workflows", TABLE)
    assert status == 200 and table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Status", "Age", "Message"]
    assert table["rows"][0]["cells"][:2] == ["w", "Running"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_discovery_is_aggregated_when_asked_for(cluster: Emulator) -> None:
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    status, headers, listing = _get(f"{cluster.url}/apis", accept)
    assert status == 200 and headers["Content-Type"].endswith("as=APIGroupDiscoveryList")
    groups = {item["metadata"]["name"]: item for item in listing["items"]}
    sweep = groups["argoml.io"]["versions"][0]["resources"][0]
    assert sweep["resource"] == "hyperparamworkflows" and sweep["shortNames"] == ["hparam", "hpw"]
    assert sweep["subresources"][0]["subresource"] == "status"
    assert _get(f"{cluster.url}/apis")[2]["kind"] == "APIGroupList"  # the legacy form otherwise


def test_openapi_v3_says_the_server_checks_fields(cluster: Emulator) -> None:
    index = _get(f"{cluster.url}/openapi/v3")[2]
    document = _get(cluster.url + index["paths"]["apis/argoml.io/v1alpha1"]["serverRelativeURL"])[2]
    item = document["paths"]["/apis/argoml.io/v1alpha1/namespaces/{namespace}/hyperparamworkflows/{name}"]
    assert "fieldValidation" in [p["name"] for p in item["patch"]["parameters"]]
    assert document["components"]["schemas"]["io.argoml.v1alpha1.HyperparamWorkflow"]["required"] == ["spec"]


@pytest.mark.parametrize(("method", "path", "code"), [
    ("GET", "/apis/argoml.io/v1alpha1/namespaces/ml/gizmos", 404),
    ("GET", "/apis/nothing.example/v1", 404),
    ("GET", "/no/such/path", 404),
    ("GET", "/openapi/v2", 404),
    ("POST", "/version", 405),
    ("POST", "/apis/argoml.io/v1alpha1/namespaces/ml/hyperparamworkflows/x", 405),
    ("PUT", "/apis/argoproj.io/v1alpha1/namespaces/ml/workflows/x/status", 404),  # Argo's CRD has no status
])
def test_what_is_not_served_answers_with_a_status(cluster: Emulator, method: str, path: str, code: int) -> None:
    status, _, body = _get(cluster.url + path, method=method)
    assert status == code and body["kind"] == "Status" and body["code"] == code and body["status"] == "Failure"


def test_the_upstream_crds_are_generated_from_the_shared_copies() -> None:
    if not (SHARED / "crds").is_dir():
        pytest.skip(f"the upstream CRDs are not beside the checkout ({SHARED / 'crds'})")
    assert playground_crds.generate(SHARED / "crds") == playground_crds.OUTPUT.read_text(), (
        "run python -m tools.playground_crds ../shared/crds")


def test_the_argo_players_made_up_metrics_are_the_same_for_the_same_trial_and_bounded() -> None:
    from argoml.dev.stack import made_up_metrics

    trials = [{"learning-rate": lr / 10, "model": model} for lr in range(1, 6) for model in ("SVM", "RF")]
    metrics = [made_up_metrics(trial) for trial in trials]
    assert metrics == [made_up_metrics(dict(trial)) for trial in trials]
    assert all(0.60 <= m["accuracy"] <= 0.95 and m["loss"] == round(1 - m["accuracy"], 4) for m in metrics)
    assert len({m["accuracy"] for m in metrics}) > 5  # trials differ, so a best one stands out


def test_make_run_refuses_an_argo_player_setting_it_does_not_know(isolated: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "argoml.dev.stack"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "ARGO_PLAYER": "maybe", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 1 and result.stderr.strip() == "ARGO_PLAYER must be on or off, not 'maybe'"


def test_the_argo_player_runs_a_sweeps_workflow_in_the_playground(cluster: Emulator) -> None:
    from argoml.dev.argo_player import ArgoPlayer
    from argoml.dev.stack import made_up_metrics

    workflows = cluster.store.type_of("argoproj.io", "v1alpha1", "workflows")
    trials = json.dumps([{"lr": 0.1}, {"lr": 0.2}])
    cluster.store.create(workflows, "ml", {
        "metadata": {"name": "sweep", "labels": {"argoml.io/hyperparamworkflow": "sweep"}},
        "spec": {"entrypoint": "main", "arguments": {"parameters": [{"name": "hyperparams", "value": trials}]},
                 "templates": [{"name": "main", "steps": [[{"name": "fit", "template": "fit",
                                                            "withParam": "{{workflow.parameters.hyperparams}}"}]]},
                               {"name": "fit", "container": {"image": "trainer"}}]}})
    ArgoPlayer(made_up_metrics, label_selector="argoml.io/hyperparamworkflow").play()
    status = cluster.store.get(workflows, "ml", "sweep")["status"]
    pods = [node for node in status["nodes"].values() if node["type"] == "Pod"]
    assert status["phase"] == "Succeeded" and len(pods) == 2
    assert {p["name"] for pod in pods for p in pod["outputs"]["parameters"]} == {"accuracy", "loss"}
