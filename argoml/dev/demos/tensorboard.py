"""Demo step: spawn TensorBoard for a finished workflow's ``tensorboard`` artifacts, over HTTP, as a user."""

from __future__ import annotations

import base64
import io
import json
import logging
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from argoml.dev import kubelet
from argoml.tensorboard.fetch import HPARAMS_DIR

if TYPE_CHECKING:
    from argoml.dev.demo import Demo

REPOSITORY = {"s3": {"bucket": "ml-artifacts", "endpoint": "minio.argo:9000", "insecure": True,
                     "accessKeySecret": {"name": "minio-creds", "key": "accesskey"},
                     "secretKeySecret": {"name": "minio-creds", "key": "secretkey"}}}


def _node(node_id: str, display: str, key: str) -> tuple[str, dict[str, Any]]:
    return node_id, {"id": node_id, "name": f"mnist-sweep.{display}", "displayName": display, "type": "Pod",
                     "phase": "Succeeded", "startedAt": "2026-11-28T10:00:00Z",
                     "outputs": {"artifacts": [{"name": "tensorboard", "path": "/logs", "s3": {"key": key}}]}}


WORKFLOW = {
    "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
    "metadata": {"name": "mnist-sweep"},
    "spec": {"entrypoint": "sweep", "templates": [{"name": "sweep", "container": {"image": "python:3.11"}}]},
    "status": {"phase": "Succeeded", "artifactRepositoryRef": {
        "configMap": "artifact-repositories", "key": "default-v1", "namespace": "demo",
        "artifactRepository": REPOSITORY},
        "nodes": dict([_node("n1", "train(0:lr=0.01)", "mnist-sweep/n1/tensorboard.tgz"),
                       _node("n2", "train(1:lr=0.1)", "mnist-sweep/n2/tensorboard.tgz")])},
}


def _call(demo: Demo, method: str, path: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(demo.stack.url("tensorboard") + path, method=method,
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def run(demo: Demo) -> None:
    store, access = demo.emulator.store, demo.emulator.access
    access.tokens["alice-token"] = {"username": "alice", "groups": ["ml-team"]}
    access.tokens["mallory-token"] = {"username": "mallory", "groups": []}
    access.tokens["rita-token"] = {"username": "rita", "groups": []}
    for user, verb in (("alice", "get"), ("alice", "create"), ("rita", "get")):
        access.grants.add((user, verb, "argoproj.io", "workflows", "demo"))
    store.create(store.type_of("", "v1", "configmaps"), "demo", {
        "metadata": {"name": "artifact-repositories",
                     "annotations": {"workflows.argoproj.io/default-artifact-repository": "default-v1"}},
        "data": {"default-v1": yaml.safe_dump(REPOSITORY)}})
    store.create(store.type_of("argoproj.io", "v1alpha1", "workflows"), "demo", WORKFLOW, keep_status=True)
    demo.say("seeded the namespace's artifact repository (ConfigMap demo/artifact-repositories) and a finished "
             "Workflow demo/mnist-sweep: two trials, each with a key-only 'tensorboard' artifact")

    status, body = _call(demo, "PUT", "/tensorboards/demo/mnist-sweep", "mallory-token")
    demo.say(f"PUT /tensorboards/demo/mnist-sweep as mallory -> {status}: {body['error']['message']}")
    status, body = _call(demo, "PUT", "/tensorboards/demo/mnist-sweep", "alice-token")
    demo.say(f"PUT /tensorboards/demo/mnist-sweep as alice -> {status}")
    demo.show("instance", body)
    ksvc_type = store.type_of("serving.knative.dev", "v1", "services")
    ksvc = store.get(ksvc_type, "demo", body["name"])
    spec = {k: ksvc[k] for k in ("apiVersion", "kind")} | {
        "metadata": {k: ksvc["metadata"][k] for k in ("name", "namespace", "labels", "annotations",
                                                        "ownerReferences")},
        "spec": ksvc["spec"]}
    demo.show("the Knative Service it created", yaml.safe_dump(spec, sort_keys=False, width=110))

    url = f"http://{body['name']}.demo.example.com"
    store.patch(ksvc_type, "demo", body["name"], {"status": {
        "observedGeneration": 1, "url": url, "conditions": [{"type": "Ready", "status": "True"}]}},
        "application/merge-patch+json", subresource="status")
    demo.say("(Knative would now report the Service ready; the emulator is told so)")
    again = _call(demo, "PUT", "/tensorboards/demo/mnist-sweep", "alice-token")[1]
    demo.say(f"PUT again (idempotent) -> same instance {again['name']}, ready={again['ready']}")
    state = _call(demo, "GET", "/tensorboards/demo/mnist-sweep", "alice-token")[1]
    demo.say(f"GET -> ready={state['ready']}  URL: {state['url']} (the function's proxy: it checks the caller's "
             "rights on every request; the instance itself is cluster-local)")
    listing = _call(demo, "GET", "/tensorboards/demo", "alice-token")[1]
    demo.say("GET /tensorboards/demo -> " + ", ".join(
        f"{w['name']} ({', '.join(w['runs'])}; instance {'ready' if (w['instance'] or {}).get('ready') else '-'})"
        for w in listing["workflows"]))
    status, body = _call(demo, "DELETE", "/tensorboards/demo/mnist-sweep", "rita-token")
    demo.say(f"DELETE as rita, who may only read workflows -> {status}: {body['error']['message']}")
    status, body = _call(demo, "DELETE", "/tensorboards/demo/mnist-sweep", "alice-token")
    demo.say(f"DELETE -> {status}; Knative Services left: {len(store.find(ksvc_type, 'demo'))}")
    demo.say(f"the page: {demo.stack.url('tensorboard')}/ (log in with a token; launch, open, stop)")


# --- a sweep's TensorBoard, with HParams ---------------------------------------------------------------

SWEEP_TRIALS = [{"learning-rate": 0.01, "batch-size": 32}, {"learning-rate": 0.1, "batch-size": 32},
                {"learning-rate": 0.1, "batch-size": 128}, {"learning-rate": 0.3, "batch-size": 128}]
SWEEP_RESULTS = [(0.91, 0.31), (0.95, 0.18), (0.93, 0.22), (0.62, 1.05)]  # (accuracy, loss) of each trial


def _trial_logs(index: int) -> bytes:
    """A trial's TensorBoard logs as Argo archives them (a .tgz of the directory): a few epochs of scalars."""
    from tensorboardX import FileWriter
    from tensorboardX.summary import scalar

    accuracy, loss = SWEEP_RESULTS[index]
    with tempfile.TemporaryDirectory() as directory:
        writer = FileWriter(str(Path(directory) / "logs" / "train"))
        for epoch in range(1, 4):
            writer.add_summary(scalar("epoch_accuracy", accuracy * epoch / 3), global_step=epoch)
            writer.add_summary(scalar("epoch_loss", loss * 3 / epoch), global_step=epoch)
        writer.close()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            archive.add(str(Path(directory) / "logs"), arcname="logs")
        return buffer.getvalue()


def sweep(demo: Demo) -> None:
    """An adaptive sweep's TensorBoard: every trial Workflow's logs as runs, with TensorBoard's HParams.

    Nothing runs TensorBoard here: the instance's init container (the log fetcher) runs as a local
    process against an S3 server on loopback (moto), and the files it writes are read back with
    TensorBoard's own event reader to show what the HParams dashboard would show.
    """
    import boto3
    from moto.server import ThreadedMotoServer

    store, namespace = demo.emulator.store, "demo"
    demo.emulator.access.grants.add(("alice", "get", "argoproj.io", "workflows", namespace))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request otherwise
    s3_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    s3_server.start()
    try:
        host, port = s3_server.get_host_and_port()
        s3 = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                          aws_access_key_id="demo", aws_secret_access_key="demo-secret")
        s3.create_bucket(Bucket="ml-artifacts")
        for index in range(len(SWEEP_TRIALS)):
            s3.put_object(Bucket="ml-artifacts", Key=f"lr-sweep-{index}/train/tensorboard.tgz",
                          Body=_trial_logs(index))
        store.create(store.type_of("", "v1", "secrets"), namespace, {"metadata": {"name": "minio-creds"}, "data": {
            "accesskey": base64.b64encode(b"demo").decode(), "secretkey": base64.b64encode(b"demo-secret").decode()}})
        repository = {"s3": {**REPOSITORY["s3"], "endpoint": f"{host}:{port}"}}
        # The repository the trials ran with, as Argo reads it: a key of the namespace's ConfigMap.
        store.patch(store.type_of("", "v1", "configmaps"), namespace, "artifact-repositories",
                    {"data": {"sweeps": yaml.safe_dump(repository)}}, "application/merge-patch+json")
        history = [{"trial": i, "hyperparams": trial, "state": "Succeeded", "value": SWEEP_RESULTS[i][0],
                    "metrics": {"loss": SWEEP_RESULTS[i][1]}, "workflow": f"lr-sweep-{i}"}
                   for i, trial in enumerate(SWEEP_TRIALS)]
        hpw = store.create(store.type_of("argoml.io", "v1alpha1", "hyperparamworkflows"), namespace, {
            "apiVersion": "argoml.io/v1alpha1", "kind": "HyperparamWorkflow", "metadata": {"name": "lr-sweep"},
            "spec": {"algorithm": "tpe", "maxTrials": 4, "parallelTrials": 2,
                     "objective": {"metric": "accuracy", "goal": "maximize", "additionalMetrics": ["loss"]},
                     "hyperparams": {"learning-rate": {"range": {"min": 0.01, "max": 0.3}},
                                     "batch-size": {"values": [32, 128]}}},
            "status": {"phase": "Succeeded", "history": history}}, keep_status=True)
        for index, trial in enumerate(SWEEP_TRIALS):
            name = f"lr-sweep-{index}"
            node = {"id": "n", "name": f"{name}.sweep[0].train(0:{json.dumps(trial)})", "type": "Pod",
                    "displayName": f"train(0:{json.dumps(trial)})", "phase": "Succeeded",
                    "outputs": {"artifacts": [{"name": "tensorboard", "path": "/logs",
                                               "s3": {"key": f"{name}/train/tensorboard.tgz"}}]}}
            store.create(store.type_of("argoproj.io", "v1alpha1", "workflows"), namespace, {
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": name, "labels": {"argoml.io/hyperparamworkflow": "lr-sweep",
                                                      "argoml.io/trial": str(index)},
                             "ownerReferences": [{"apiVersion": "argoml.io/v1alpha1", "kind": "HyperparamWorkflow",
                                                  "name": "lr-sweep", "uid": hpw["metadata"]["uid"],
                                                  "controller": True}]},
                "spec": {"arguments": {"parameters": [{"name": "hyperparams", "value": json.dumps([trial])}]}},
                "status": {"phase": "Succeeded", "nodes": {"n": node},
                           "artifactRepositoryRef": {"configMap": "artifact-repositories", "key": "sweeps",
                                                     "namespace": namespace, "artifactRepository": repository}}},
            keep_status=True)
        demo.say("seeded HyperparamWorkflow demo/lr-sweep (tpe, objective accuracy, maximize) with 4 finished "
                 "trial Workflows lr-sweep-0..3, each with a 'tensorboard' artifact in S3 (moto on loopback)")

        status, body = _call(demo, "PUT", "/tensorboards/demo/lr-sweep-2", "alice-token")
        demo.say(f"PUT /tensorboards/demo/lr-sweep-2 (a trial's Workflow) as alice -> {status}: the sweep's "
                 f"instance {body['name']} (sweep={body['sweep']}), one run per trial:")
        for run in body["runs"]:
            demo.say(f"  {run}")
        ksvc = store.get(store.type_of("serving.knative.dev", "v1", "services"), namespace, body["name"])
        with tempfile.TemporaryDirectory(prefix="argoml-demo-logs-") as directory:
            logs = Path(directory) / "logs"
            result = kubelet.run_fetcher(store, ksvc, logs)
            demo.say(f"ran the instance's init container (python -m argoml.tensorboard.fetch) -> exit "
                     f"{result.returncode}; {result.stdout.strip().splitlines()[-1] if result.stdout else ''}")
            if result.returncode != 0:
                raise RuntimeError(result.stderr)
            demo.show("files written to the logs volume (what TensorBoard's --logdir serves)", "\n".join(
                str(path.relative_to(logs)) for path in sorted(logs.rglob("*")) if path.is_file()))
            table = _hparams_table(logs)
            demo.show("what TensorBoard's HParams dashboard reads from them (EventAccumulator)", table)
            kept = store.get(store.type_of("argoml.io", "v1alpha1", "hyperparamworkflows"), namespace, "lr-sweep")
            if not (kept.get("status") or {}).get("history"):
                demo.say("(no metric values: this API server's HyperparamWorkflow schema does not keep "
                         "status.history, so the trials' hyperparameters come from their trials parameter)")
        demo.say("the page's Open button takes a sweep straight to TensorBoard's HParams dashboard (<url>/#hparams)")
    finally:
        s3_server.stop()


def _hparams_table(logs: Path) -> str:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    root = EventAccumulator(str(logs))
    root.Reload()
    experiment = metadata.parse_experiment_plugin_data(
        root.PluginTagToContent(metadata.PLUGIN_NAME)[metadata.EXPERIMENT_TAG])
    hparams = sorted(h.name for h in experiment.hparam_infos)
    metrics = [m.name.tag for m in experiment.metric_infos]
    rows = [["session (run)", *hparams, *metrics]]
    for session_dir in sorted(logs.glob(f"*/{HPARAMS_DIR}")):
        session = EventAccumulator(str(session_dir))
        session.Reload()
        start = metadata.parse_session_start_info_plugin_data(
            session.PluginTagToContent(metadata.PLUGIN_NAME)[metadata.SESSION_START_INFO_TAG])
        values = [start.hparams[h].number_value if start.hparams[h].WhichOneof("kind") == "number_value"
                  else start.hparams[h].string_value for h in hparams]
        scalars = session.Tags()["scalars"]
        rows.append([session_dir.parent.name, *(f"{v:g}" if isinstance(v, float) else v for v in values),
                     *(f"{session.Scalars(m)[-1].value:.2f}" if m in scalars else "-" for m in metrics)])
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
