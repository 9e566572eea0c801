"""Demo step: spawn TensorBoard for a finished workflow's ``tensorboard`` artifacts, over HTTP, as a user."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import yaml

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
