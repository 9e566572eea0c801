"""A sweep's TensorBoard: one instance over every trial, with TensorBoard's HParams data written beside each run.

The sweeps are HyperparamWorkflows as issue 14's function leaves them (``spec.objective``,
``status.history``) with the Workflows it generates (labelled and controlled by the sweep):
one Workflow whose loop nodes ``train(<index>:...)`` are the trials (grid), or one Workflow per
trial labelled ``argoml.io/trial`` (adaptive). The end-to-end test runs the instance's init
container against moto's S3 server and reads the event files back with TensorBoard's own
reader (``EventAccumulator`` and the hparams plugin's metadata parsers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import flask.testing
import pytest
import yaml

from argoml.dev.emulator import Emulator
from argoml.tensorboard.fetch import CONFIG_ENV, HPARAMS_DIR, HParams, Plan, Session, write_hparams
from argoml.timestamps import format_rfc3339
from tests import workflow_status
from tests.test_gc import ago, ping
from tests.test_tensorboard_fetch import EVENTS, run_init_container, s3_client, tgz, tree
from tests.workflow_status import MINIO_REPOSITORY, key_only, pod, workflow


def _crd_keeps_history() -> bool:
    """Whether the HyperparamWorkflow CRD declares issue 14's ``status.history`` (else the API server prunes it)."""
    crd = yaml.safe_load((Path(__file__).resolve().parents[1] / "knative/crd/hyperparamworkflows.yaml").read_text())
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"].get("status") or {}
    return "history" in (status.get("properties") or {}) or bool(status.get("x-kubernetes-preserve-unknown-fields"))


needs_history = pytest.mark.skipif(not _crd_keeps_history(), reason="the HyperparamWorkflow CRD does not declare "
                                   "status.history yet (issue 14): the API server prunes it")
NAMESPACE = "ml"
SWEEP_LABEL, TRIAL_LABEL = "argoml.io/hyperparamworkflow", "argoml.io/trial"
KSVC = ("serving.knative.dev", "v1", "services")
HPWS = ("argoml.io", "v1alpha1", "hyperparamworkflows")
WORKFLOWS = ("argoproj.io", "v1alpha1", "workflows")
TRIALS: list[dict[str, str | float | bool]] = [
    {"learning-rate": 0.1, "model": "SVM"}, {"learning-rate": 0.2, "model": "SVM"},
    {"learning-rate": 0.1, "model": "RandomForest"}]


@pytest.fixture
def client(serve: Any, monkeypatch: pytest.MonkeyPatch) -> flask.testing.FlaskClient:
    monkeypatch.setenv("TENSORBOARD_AUTH", "off")
    monkeypatch.setenv("TENSORBOARD_FETCH_ALLOW", "127.0.0.0/8")  # the test's S3 server listens on loopback
    return serve("tensorboard")


def create_sweep(cluster: Emulator, name: str, algorithm: str = "grid", *, objective: bool = True,
                 history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"algorithm": algorithm, "hyperparams": {"model": {"values": ["SVM", "RandomForest"]}},
                            "entrypoint": "sweep", "templates": [{"name": "sweep"}]}
    if objective:
        spec["objective"] = {"metric": "accuracy", "goal": "maximize", "additionalMetrics": ["loss"]}
    body = {"apiVersion": "argoml.io/v1alpha1", "kind": "HyperparamWorkflow",
            "metadata": {"name": name}, "spec": spec}
    if history is not None:
        body["status"] = {"phase": "Succeeded", "history": history}
    return cluster.store.create(cluster.store.type_of(*HPWS), NAMESPACE, body, keep_status=True)


HISTORY = [
    {"trial": 0, "hyperparams": TRIALS[0], "state": "Succeeded", "value": 0.91, "metrics": {"loss": 0.30}},
    {"trial": 1, "hyperparams": TRIALS[1], "state": "Succeeded", "value": 0.87, "metrics": {"loss": 0.41}},
    {"trial": 2, "hyperparams": TRIALS[2], "state": "Failed", "reason": "no value"},
]


def generated(sweep: dict[str, Any], name: str, *nodes: tuple[str, dict[str, Any]], trials: list[dict[str, Any]],
              trial: int | None = None) -> dict[str, Any]:
    """A Workflow the sweep generated: labelled and controlled by it, its trials in the parameter."""
    wf = workflow(name, NAMESPACE, *nodes, repository=MINIO_REPOSITORY)
    labels = {SWEEP_LABEL: sweep["metadata"]["name"], **({TRIAL_LABEL: str(trial)} if trial is not None else {})}
    wf["metadata"].update(labels=labels, annotations={"argoml.io/parameter": "hyperparams"}, ownerReferences=[{
        "apiVersion": "argoml.io/v1alpha1", "kind": "HyperparamWorkflow", "name": sweep["metadata"]["name"],
        "uid": sweep["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}])
    wf["spec"]["arguments"] = {"parameters": [{"name": "hyperparams", "value": json.dumps(trials)}]}
    return wf


def seed(cluster: Emulator, wf: dict[str, Any]) -> None:
    workflow_status.seed(cluster, wf)  # with the repository's ConfigMap, as on a real cluster


def loop_node(node_id: str, index: int, key: str) -> tuple[str, dict[str, Any]]:
    node_id, node = pod(node_id, f"train({index}:{json.dumps(TRIALS[index])})", key_only(key))
    node["name"] = f"mnist.sweep[0].train({index}:{json.dumps(TRIALS[index])})"
    return node_id, node


def plan_of(cluster: Emulator, name: str) -> Plan:
    ksvc = cluster.store.get(cluster.store.type_of(*KSVC), NAMESPACE, f"tb-{name}")
    [init] = ksvc["spec"]["template"]["spec"]["initContainers"]
    return Plan.from_json(next(e["value"] for e in init["env"] if e["name"] == CONFIG_ENV))


@needs_history
def test_a_grid_sweep_gets_one_instance_with_a_run_and_hparams_per_trial(client: flask.testing.FlaskClient,
                                                                        cluster: Emulator) -> None:
    sweep = create_sweep(cluster, "mnist", history=HISTORY)
    seed(cluster, generated(sweep, "mnist", *(loop_node(f"n{i}", i, f"mnist/t{i}/tb.tgz") for i in range(3)),
                            trials=TRIALS))
    for path in ("/tensorboards/ml/mnist", "/tensorboards/ml/mnist"):  # the sweep's name is its Workflow's too
        response = client.put(path)
        assert response.status_code == 200, response.json
    body = response.json
    assert body["sweep"] is True and body["workflow"] == "mnist"
    assert body["runs"] == ["trial-0(learning-rate=0.1,model=SVM)", "trial-1(learning-rate=0.2,model=SVM)",
                            "trial-2(learning-rate=0.1,model=RandomForest)"]
    ksvc = cluster.store.get(cluster.store.type_of(*KSVC), NAMESPACE, "tb-mnist")
    [owner] = ksvc["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("HyperparamWorkflow", "mnist", sweep["metadata"]["uid"])
    hparams = plan_of(cluster, "mnist").hparams
    assert hparams is not None and hparams.metrics == ("accuracy", "loss")
    sessions = {run: (s.trial, dict(s.hyperparams), dict(s.metrics)) for run, s in hparams.sessions.items()}
    assert sessions == {body["runs"][0]: (0, TRIALS[0], {"accuracy": 0.91, "loss": 0.30}),
                        body["runs"][1]: (1, TRIALS[1], {"accuracy": 0.87, "loss": 0.41}),
                        body["runs"][2]: (2, TRIALS[2], {})}


def test_every_trial_workflow_of_an_adaptive_sweep_is_in_its_instance(client: flask.testing.FlaskClient,
                                                                      cluster: Emulator) -> None:
    sweep = create_sweep(cluster, "tpe", "tpe", history=HISTORY[:2])
    for index in range(2):
        seed(cluster, generated(sweep, f"tpe-{index}", pod("p", "train(0:...)", key_only(f"tpe/{index}/tb.tgz")),
                                trials=[TRIALS[index]], trial=index))
    stranger = workflow("tpe-9", NAMESPACE, pod("p", "train", key_only("x.tgz")), repository=MINIO_REPOSITORY)
    stranger["metadata"]["labels"] = {SWEEP_LABEL: "tpe", TRIAL_LABEL: "9"}  # labelled, but not the sweep's
    seed(cluster, stranger)
    response = client.put("/tensorboards/ml/tpe-1")  # a trial's Workflow names its sweep
    assert response.status_code == 200, response.json
    assert response.json["name"] == "tb-tpe" and response.json["runs"] == [
        "trial-0(learning-rate=0.1,model=SVM)", "trial-1(learning-rate=0.2,model=SVM)"]
    assert client.get("/tensorboards/ml/tpe").json["sweep"] is True
    assert client.put("/tensorboards/ml/tpe-9").json["name"] == "tb-tpe-9"  # a Workflow of its own
    listing = client.get("/tensorboards/ml").json
    assert [(s["name"], s["trialWorkflows"], s["runs"], s["instance"]["name"]) for s in listing["sweeps"]] == [
        ("tpe", 2, 2, "tb-tpe")]
    assert [w["name"] for w in listing["workflows"]] == ["tpe-9"]
    assert client.delete("/tensorboards/ml/tpe").json == {"deleted": "tb-tpe", "namespace": "ml", "workflow": "tpe"}
    assert [k["metadata"]["name"] for k in cluster.store.find(cluster.store.type_of(*KSVC), NAMESPACE)] == ["tb-tpe-9"]


def test_without_an_objective_the_trials_hyperparameters_come_from_the_trials_parameter(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    sweep = create_sweep(cluster, "plain", objective=False)
    seed(cluster, generated(sweep, "plain", loop_node("a", 0, "p/0.tgz"), loop_node("b", 2, "p/2.tgz"),
                            trials=TRIALS))
    assert client.put("/tensorboards/ml/plain").status_code == 200
    hparams = plan_of(cluster, "plain").hparams
    assert hparams is not None and hparams.metrics == ()
    assert {s.trial: dict(s.hyperparams) for s in hparams.sessions.values()} == {0: TRIALS[0], 2: TRIALS[2]}


def test_a_sweep_without_logs_yet_is_a_422(client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    create_sweep(cluster, "early")
    response = client.put("/tensorboards/ml/early")
    assert response.status_code == 422
    assert response.json["error"]["message"] == ("sweep ml/early has no trial with output artifacts named "
                                                 "'tensorboard' yet (0 trial workflows)")
    assert client.put("/tensorboards/ml/nothing-at-all").status_code == 404


@needs_history
@pytest.mark.parametrize("history", [
    "not a list", [None, 5, "x"], [{"trial": "zero", "hyperparams": {}}, {"trial": -1, "hyperparams": {}}],
    [{"trial": 0, "hyperparams": ["lr"], "value": "high"}],
    [{"trial": 0, "hyperparams": {"lr": {"nested": [1]}}, "value": float("nan"), "metrics": {"loss": True}}],
])
def test_a_status_history_that_is_not_one_is_skipped(client: flask.testing.FlaskClient, cluster: Emulator,
                                                     history: Any) -> None:
    sweep = create_sweep(cluster, "odd", history=[])
    cluster.store.patch(cluster.store.type_of(*HPWS), NAMESPACE, "odd", {"status": {"history": history}},
                        "application/merge-patch+json", subresource="status")
    seed(cluster, generated(sweep, "odd", loop_node("a", 0, "o/0.tgz"), trials=TRIALS))
    response = client.put("/tensorboards/ml/odd")
    assert response.status_code == 200, response.json
    hparams = plan_of(cluster, "odd").hparams
    assert hparams is not None
    [session] = hparams.sessions.values()
    assert all(isinstance(v, str | float | int) for v in session.hyperparams.values())
    assert all(isinstance(v, float) for v in session.metrics.values())


def read_hparams(logs: Path) -> tuple[list[str], list[str], dict[str, tuple[dict[str, Any], dict[str, float]]]]:
    """What TensorBoard's HParams dashboard reads from ``logs``, with TensorBoard's own reader: the
    experiment's hyperparameters and metrics, and each session's hyperparameters and metric values."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    root = EventAccumulator(str(logs))
    root.Reload()
    experiment = metadata.parse_experiment_plugin_data(
        root.PluginTagToContent(metadata.PLUGIN_NAME)[metadata.EXPERIMENT_TAG])
    sessions = {}
    for directory in sorted(logs.glob(f"*/{HPARAMS_DIR}")):
        session = EventAccumulator(str(directory))
        session.Reload()
        start = metadata.parse_session_start_info_plugin_data(
            session.PluginTagToContent(metadata.PLUGIN_NAME)[metadata.SESSION_START_INFO_TAG])
        hyperparams = {k: v.number_value if v.WhichOneof("kind") == "number_value" else v.string_value
                       for k, v in start.hparams.items()}
        metrics = {tag: round(session.Scalars(tag)[-1].value, 4) for tag in session.Tags()["scalars"]}
        sessions[directory.parent.name] = (hyperparams, metrics)
    return (sorted(h.name for h in experiment.hparam_infos), [m.name.tag for m in experiment.metric_infos],
            sessions)


def test_the_hparams_written_are_what_tensorboards_reader_finds(tmp_path: Path) -> None:
    sessions = {f"trial-{i}": Session(i, TRIALS[i], metrics) for i, metrics in
                enumerate([{"accuracy": 0.91, "loss": 0.3}, {"accuracy": 0.87, "loss": 0.41}, {}])}
    for run in sessions:
        (tmp_path / run).mkdir()
    write_hparams(tmp_path, HParams(("accuracy", "loss"), sessions))
    assert read_hparams(tmp_path) == (["learning-rate", "model"], ["accuracy", "loss"], {
        "trial-0": (TRIALS[0], {"accuracy": 0.91, "loss": 0.3}),
        "trial-1": (TRIALS[1], {"accuracy": 0.87, "loss": 0.41}), "trial-2": (TRIALS[2], {})})


def test_the_fetched_logs_carry_every_trials_hparams_as_tensorboard_reads_them(
        client: flask.testing.FlaskClient, cluster: Emulator, s3_endpoint: str, tmp_path: Path) -> None:
    s3 = s3_client(s3_endpoint)
    s3.create_bucket(Bucket="ml-artifacts")
    for index in range(3):
        s3.put_object(Bucket="ml-artifacts", Key=f"mnist/t{index}/tb.tgz",
                      Body=tgz({f"logs/train/events.out.tfevents.{index}": EVENTS}))
    secrets = cluster.store.type_of("", "v1", "secrets")
    cluster.store.create(secrets, NAMESPACE, {"metadata": {"name": "minio-creds"}, "data": {
        "accesskey": "bWluaW8=", "secretkey": "bWluaW8xMjM="}})
    sweep = create_sweep(cluster, "mnist", history=HISTORY)
    wf = generated(sweep, "mnist", *(loop_node(f"n{i}", i, f"mnist/t{i}/tb.tgz") for i in range(3)), trials=TRIALS)
    repository = {"s3": {**MINIO_REPOSITORY["s3"], "endpoint": s3_endpoint}}  # not the shared constant
    wf["status"]["artifactRepositoryRef"]["artifactRepository"] = repository
    seed(cluster, wf)
    runs = client.put("/tensorboards/ml/mnist").json["runs"]
    ksvc = cluster.store.get(cluster.store.type_of(*KSVC), NAMESPACE, "tb-mnist")
    result = run_init_container(cluster, ksvc, tmp_path / "logs")
    assert result.returncode == 0, result.stderr
    logs = tmp_path / "logs"
    assert {f"{run}/train/events.out.tfevents.{i}" for i, run in enumerate(runs)} <= set(tree(logs))
    # The metric values come from issue 14's status.history, which the API server keeps once the CRD declares it.
    metrics = [{"accuracy": 0.91, "loss": 0.30}, {"accuracy": 0.87, "loss": 0.41}, {}] if _crd_keeps_history() else [
        {}, {}, {}]
    assert read_hparams(logs) == (["learning-rate", "model"], ["accuracy", "loss"],
                                  {run: (TRIALS[i], metrics[i]) for i, run in enumerate(runs)})


@pytest.fixture(scope="module")
def s3_endpoint() -> Any:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


def test_gc_keeps_a_used_sweep_instance_and_removes_it_when_idle_or_its_sweep_is_gone(
        client: flask.testing.FlaskClient, cluster: Emulator, serve: Any) -> None:
    """A sweep's Workflows come and go; its instance belongs to the HyperparamWorkflow."""
    for name in ("used", "idle", "deleted"):
        sweep = create_sweep(cluster, name, "tpe", history=HISTORY[:1])
        seed(cluster, generated(sweep, f"{name}-0", pod("p", "train", key_only(f"{name}/0.tgz")),
                                trials=TRIALS[:1], trial=0))
        assert client.put(f"/tensorboards/ml/{name}").status_code == 200
    ksvcs = cluster.store.type_of(*KSVC)
    cluster.store.patch(ksvcs, NAMESPACE, "tb-idle", {"metadata": {"annotations": {
        "argoml.io/last-accessed": format_rfc3339(ago(48))}}}, "application/merge-patch+json")
    cluster.store.delete(cluster.store.type_of(*HPWS), NAMESPACE, "deleted", propagation="Orphan")
    status, summary = ping(serve, {"tensorboardTTLHours": 24, "namespaces": [NAMESPACE]})
    assert status == 200
    assert summary["deleted"] == {"services.serving.knative.dev": ["ml/tb-deleted", "ml/tb-idle"]}
    assert summary["kept"]["tensorboard-in-use"] == 1
    assert [k["metadata"]["name"] for k in cluster.store.find(ksvcs, NAMESPACE)] == ["tb-used"]
