"""The tensorboard function over HTTP: spawning, state, teardown, listing, refusals and who may call it."""

from __future__ import annotations

import json
import logging
import re
import subprocess
from collections.abc import Callable
from typing import Any

import flask.testing
import pytest

from argoml import names
from argoml.dev.emulator import Emulator
from argoml.tensorboard import instances
from argoml.tensorboard.fetch import CONFIG_ENV, Plan
from tests.conftest import ROOT, SHARED
from tests.schemas import SchemaRegistry
from tests.workflow_status import MINIO_REPOSITORY, key_only, pod, seed, workflow

KSVC = ("serving.knative.dev", "v1", "services")
WORKFLOWS = ("argoproj.io", "v1alpha1", "workflows")
DEPLOYMENTS = ("apps", "v1", "deployments")
SERVICES = ("", "v1", "services")
TOKEN = "alice-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCHEMAS = SchemaRegistry.from_paths(SHARED / "crds" / "knative-serving")


def assert_valid(obj: dict) -> None:
    """Valid against Knative's CRD schema (Services) or Kubernetes' own (built-in kinds)."""
    assert SCHEMAS.problems(obj) == []

Serve = Callable[[str], flask.testing.FlaskClient]


@pytest.fixture
def client(cluster: Emulator, serve: Serve, monkeypatch: pytest.MonkeyPatch) -> flask.testing.FlaskClient:
    """The function in its default configuration (Knative mode, auth on); alice may read and run workflows in ml."""
    monkeypatch.delenv("TENSORBOARD_AUTH", raising=False)
    cluster.access.tokens[TOKEN] = {"username": "alice", "groups": ["ml-team", "system:authenticated"]}
    cluster.access.grants.add(("alice", "get", "argoproj.io", "workflows", "ml"))
    cluster.access.grants.add(("alice", "create", "argoproj.io", "workflows", "ml"))
    return serve("tensorboard")


def seed_workflow(cluster: Emulator, wf: dict[str, Any] | None = None) -> dict[str, Any]:
    wf = wf or workflow("train-mnist", "ml", pod("a", "train", key_only("train-mnist/a/tensorboard.tgz")),
                        pod("b", "evaluate", key_only("train-mnist/b/tensorboard.tgz")),
                        repository=MINIO_REPOSITORY)
    return seed(cluster, wf)


def ksvc(cluster: Emulator, name: str = "tb-train-mnist", namespace: str = "ml") -> dict[str, Any]:
    return cluster.store.get(cluster.store.type_of(*KSVC), namespace, name)


def set_status(cluster: Emulator, resource: tuple[str, str, str], name: str, status: dict[str, Any]) -> None:
    store = cluster.store
    store.patch(store.type_of(*resource), "ml", name, {"status": status}, "application/merge-patch+json",
                subresource="status")


def plan_of(pod_spec: dict[str, Any]) -> Plan:
    env = {e["name"]: e.get("value") for e in pod_spec["initContainers"][0]["env"]}
    return Plan.from_json(env[CONFIG_ENV])


# --- spawning (Knative) -------------------------------------------------------------------------------


def test_put_spawns_a_knative_service_that_fetches_every_run_and_serves_tensorboard(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    wf = seed_workflow(cluster)
    response = client.put("/tensorboards/ml/train-mnist", headers=AUTH)
    assert response.status_code == 200, response.json
    assert response.json | {"created": "", "lastAccessed": ""} == {
        "name": "tb-train-mnist", "namespace": "ml", "workflow": "train-mnist", "mode": "knative", "ready": False,
        "url": "/tensorboards/ml/train-mnist/ui/", "runs": ["evaluate", "train"], "message": "starting",
        "created": "", "lastAccessed": "", "sweep": False}
    service = ksvc(cluster)
    assert_valid(service)
    meta = service["metadata"]
    assert meta["labels"]["networking.knative.dev/visibility"] == "cluster-local"
    assert "networking.knative.dev/visibility" not in service["spec"]["template"]["metadata"]["labels"]
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "argoml-tensorboard"
    assert meta["labels"]["argoml.io/tensorboard-workflow"] == "train-mnist"
    assert meta["annotations"]["argoml.io/last-accessed"] == response.json["lastAccessed"]
    assert meta["ownerReferences"] == [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                                        "name": "train-mnist", "uid": wf["metadata"]["uid"]}]
    template = service["spec"]["template"]
    assert template["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "0"
    spec = template["spec"]
    init, tensorboard_container = spec["initContainers"][0], spec["containers"][0]
    assert init["command"] == ["python", "-m", "argoml.tensorboard.fetch"]
    assert tensorboard_container["args"][:4] == ["--logdir=/logs", "--host=0.0.0.0", "--port=6006",
                                                  "--path_prefix=/tensorboards/ml/train-mnist/ui"]
    assert tensorboard_container["readinessProbe"]["httpGet"]["path"] == "/tensorboards/ml/train-mnist/ui/"
    assert {m["name"] for m in init["volumeMounts"]} == {v["name"] for v in spec["volumes"]} == {"logs"}
    plan = plan_of(spec)
    assert [(s.run, s.kind, s.archive, s.location["key"]) for s in plan.sources] == [
        ("evaluate", "s3", "tgz", "train-mnist/b/tensorboard.tgz"),
        ("train", "s3", "tgz", "train-mnist/a/tensorboard.tgz")]


def test_credentials_are_referenced_from_the_repositorys_secret_never_copied(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    cluster.store.create(cluster.store.type_of(*SERVICES[:2], "secrets"), "ml", {
        "metadata": {"name": "minio-creds"}, "stringData": {"accesskey": "AKIA-SEEKRIT", "secretkey": "s3kr1t"}})
    seed_workflow(cluster)
    assert client.put("/tensorboards/ml/train-mnist", headers=AUTH).status_code == 200
    spec = ksvc(cluster)["spec"]["template"]["spec"]
    assert "SEEKRIT" not in json.dumps(spec) and "s3kr1t" not in json.dumps(spec)
    refs = {e["valueFrom"]["secretKeyRef"]["key"]: e["name"] for e in spec["initContainers"][0]["env"]
            if "valueFrom" in e}
    assert set(refs) == {"accesskey", "secretkey"}
    source = plan_of(spec).sources[0]
    assert source.secrets == {"accessKeySecret": refs["accesskey"], "secretKeySecret": refs["secretkey"]}
    assert "accessKeySecret" not in source.location


def test_the_logs_volume_and_the_fetcher_are_bounded_by_the_configured_size(
        cluster: Emulator, serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    assert instances.Settings().logs_max_bytes == 10 * 2**30
    monkeypatch.setenv("TENSORBOARD_LOGS_SIZE_LIMIT", "500Mi")
    monkeypatch.setenv("TENSORBOARD_AUTH", "off")
    client = serve("tensorboard")
    seed_workflow(cluster)
    assert client.put("/tensorboards/ml/train-mnist").status_code == 200
    assert_valid(ksvc(cluster))
    spec = ksvc(cluster)["spec"]["template"]["spec"]
    assert spec["volumes"] == [{"name": "logs", "emptyDir": {"sizeLimit": "500Mi"}}]
    assert plan_of(spec).max_bytes == 500 * 2**20
    monkeypatch.setenv("TENSORBOARD_LOGS_SIZE_LIMIT", "lots")
    with pytest.raises(ValueError, match="TENSORBOARD_LOGS_SIZE_LIMIT must be a size"):
        instances.Settings.from_env()


def test_asking_twice_returns_the_same_instance_and_creates_nothing_more(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    seed_workflow(cluster)
    first = client.put("/tensorboards/ml/train-mnist", headers=AUTH).json
    generation = ksvc(cluster)["metadata"]["generation"]
    second = client.put("/tensorboards/ml/train-mnist", headers=AUTH)
    assert second.status_code == 200 and second.json["name"] == first["name"]
    assert len(cluster.store.find(cluster.store.type_of(*KSVC), "ml")) == 1
    assert ksvc(cluster)["metadata"]["generation"] == generation  # the spec was left alone


def test_an_instance_deleted_while_a_put_finds_it_taken_is_created_again(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    seed_workflow(cluster)
    cluster.fail(409, method="POST", resource="services")  # it existed at the create, and was gone at the read
    response = client.put("/tensorboards/ml/train-mnist", headers=AUTH)
    assert response.status_code == 200 and response.json["name"] == "tb-train-mnist"
    assert ksvc(cluster)["metadata"]["labels"]["argoml.io/tensorboard-workflow"] == "train-mnist"


def test_new_logs_of_a_running_workflow_are_added_when_asked_again(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    wf = workflow("train-mnist", "ml", pod("a", "epoch-1", key_only("e1.tgz")), phase="Running",
                  repository=MINIO_REPOSITORY)
    seed_workflow(cluster, wf)
    assert client.put("/tensorboards/ml/train-mnist", headers=AUTH).json["runs"] == ["epoch-1"]
    set_status(cluster, KSVC, "tb-train-mnist", {"observedGeneration": 1, "url": "http://tb",
                                                 "conditions": [{"type": "Ready", "status": "True"}]})
    wf["status"]["nodes"].update([pod("b", "epoch-2", key_only("e2.tgz"))])
    cluster.store.patch(cluster.store.type_of(*WORKFLOWS), "ml", "train-mnist", {"status": wf["status"]},
                        "application/merge-patch+json", subresource="status")
    state = client.put("/tensorboards/ml/train-mnist", headers=AUTH).json
    assert state["runs"] == ["epoch-1", "epoch-2"]
    assert state["ready"] is False  # until Knative has rolled out the new generation
    assert [s.run for s in plan_of(ksvc(cluster)["spec"]["template"]["spec"]).sources] == ["epoch-1", "epoch-2"]


def test_in_deployment_mode_new_logs_replace_the_deployment_spec(
        cluster: Emulator, serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENSORBOARD_MODE", "deployment")
    monkeypatch.setenv("TENSORBOARD_AUTH", "off")
    client = serve("tensorboard")
    wf = workflow("train-mnist", "ml", pod("a", "epoch-1", key_only("e1.tgz")), phase="Running",
                  repository=MINIO_REPOSITORY)
    seed_workflow(cluster, wf)
    client.put("/tensorboards/ml/train-mnist")
    wf["status"]["nodes"].update([pod("b", "epoch-2", key_only("e2.tgz"))])
    cluster.store.patch(cluster.store.type_of(*WORKFLOWS), "ml", "train-mnist", {"status": wf["status"]},
                        "application/merge-patch+json", subresource="status")
    assert client.put("/tensorboards/ml/train-mnist").json["runs"] == ["epoch-1", "epoch-2"]
    deployment = cluster.store.get(cluster.store.type_of(*DEPLOYMENTS), "ml", "tb-train-mnist")
    assert [s.run for s in plan_of(deployment["spec"]["template"]["spec"]).sources] == ["epoch-1", "epoch-2"]
    assert any(c.verb == "update" and c.resource == "deployments" for c in cluster.calls)


def test_key_only_artifacts_use_the_controllers_default_repository(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    store = cluster.store
    store.create(store.type_of("", "v1", "configmaps"), "argo", {
        "metadata": {"name": "workflow-controller-configmap"},
        "data": {"artifactRepository": "s3:\n  bucket: controller-default\n  endpoint: minio.argo:9000\n"}})
    seed_workflow(cluster, workflow("train-mnist", "ml", pod("a", "train", key_only("runs/a.tgz"))))
    assert client.put("/tensorboards/ml/train-mnist", headers=AUTH).status_code in (200, 201)
    (source,) = plan_of(ksvc(cluster)["spec"]["template"]["spec"]).sources
    assert (source.kind, source.location["bucket"], source.location["key"]) == ("s3", "controller-default",
                                                                                  "runs/a.tgz")
    assert ("get", "configmaps", "argo") in {(c.verb, c.resource, c.namespace) for c in cluster.calls
                                             if c.agent == "argoml-tensorboard"}


def test_state_is_not_ready_until_knative_says_so_and_the_url_is_always_the_proxy_path(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    seed_workflow(cluster)
    client.put("/tensorboards/ml/train-mnist", headers=AUTH)
    internal = "http://tb-train-mnist.ml.svc.cluster.local"
    url = "/tensorboards/ml/train-mnist/ui/"
    waiting = {"type": "Ready", "status": "Unknown", "reason": "RevisionMissing",
               "message": "Configuration is waiting for a Revision"}
    set_status(cluster, KSVC, "tb-train-mnist", {"observedGeneration": 1, "url": internal, "conditions": [waiting]})
    state = client.get("/tensorboards/ml/train-mnist", headers=AUTH).json
    assert (state["ready"], state["url"], state["message"]) == (
        False, url, "Configuration is waiting for a Revision")
    set_status(cluster, KSVC, "tb-train-mnist", {"observedGeneration": 1, "url": internal,
                                                 "conditions": [{"type": "Ready", "status": "True"}]})
    state = client.get("/tensorboards/ml/train-mnist", headers=AUTH).json
    assert (state["ready"], state["url"], state["message"]) == (True, url, "")


def test_a_get_records_when_the_instance_was_last_looked_at(client: flask.testing.FlaskClient,
                                                            cluster: Emulator) -> None:
    seed_workflow(cluster)
    client.put("/tensorboards/ml/train-mnist", headers=AUTH)
    cluster.store.patch(cluster.store.type_of(*KSVC), "ml", "tb-train-mnist",
                        {"metadata": {"annotations": {"argoml.io/last-accessed": "2020-01-01T00:00:00Z"}}},
                        "application/merge-patch+json")
    state = client.get("/tensorboards/ml/train-mnist", headers=AUTH).json
    stored = ksvc(cluster)["metadata"]["annotations"]["argoml.io/last-accessed"]
    assert stored == state["lastAccessed"] and stored > "2020-01-01T00:00:00Z"


def test_long_and_dotted_workflow_names_get_stable_dns_safe_names() -> None:
    long_name = "hyperparameter-sweep-" + "x" * 200 + ".final"
    name = instances.instance_name(long_name)
    assert name == instances.instance_name(long_name) and len(name) <= 52
    assert names.is_dns_label(name) and name[0].isalpha()
    assert name != instances.instance_name(long_name + "2")
    assert instances.instance_name("a.b") != instances.instance_name("a-b")
    label = instances.workflow_label(long_name)
    assert len(label) <= 63 and label == instances.workflow_label(long_name)


def test_a_workflow_with_a_long_name_gets_a_valid_instance(client: flask.testing.FlaskClient,
                                                           cluster: Emulator) -> None:
    name = "sweep-" + "lr-0-001-" * 25 + "end"
    seed_workflow(cluster, workflow(name, "ml", pod("a", "train", key_only("k.tgz")), repository=MINIO_REPOSITORY))
    response = client.put(f"/tensorboards/ml/{name}", headers=AUTH)
    assert response.status_code == 200 and response.json["workflow"] == name
    assert_valid(ksvc(cluster, response.json["name"]))


# --- Deployment mode ----------------------------------------------------------------------------------


def test_deployment_mode_spawns_a_deployment_and_a_cluster_ip_service(
        cluster: Emulator, serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENSORBOARD_MODE", "deployment")
    monkeypatch.setenv("TENSORBOARD_IMAGE", "registry.local/tensorboard:2.16")
    monkeypatch.setenv("TENSORBOARD_FLAGS", "--reload_interval=60 --samples_per_plugin=images=100")
    monkeypatch.setenv("TENSORBOARD_RESOURCES", '{"limits": {"memory": "4Gi"}}')
    monkeypatch.setenv("TENSORBOARD_AUTH", "off")
    client = serve("tensorboard")
    wf = seed_workflow(cluster)
    state = client.put("/tensorboards/ml/train-mnist").json
    assert (state["mode"], state["ready"], state["url"]) == ("deployment", False, "/tensorboards/ml/train-mnist/ui/")
    store = cluster.store
    deployment = store.get(store.type_of(*DEPLOYMENTS), "ml", "tb-train-mnist")
    service = store.get(store.type_of(*SERVICES), "ml", "tb-train-mnist")
    for obj in (deployment, service):
        assert_valid(obj)
        assert obj["metadata"]["ownerReferences"][0]["uid"] == wf["metadata"]["uid"]
        assert obj["metadata"]["labels"]["argoml.io/tensorboard-workflow"] == "train-mnist"
    assert service["spec"]["type"] == "ClusterIP" and service["spec"]["ports"][0]["port"] == 6006
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.local/tensorboard:2.16"
    assert container["args"][4:] == ["--reload_interval=60", "--samples_per_plugin=images=100"]
    assert container["resources"] == {"limits": {"memory": "4Gi"}}
    assert client.put("/tensorboards/ml/train-mnist").status_code == 200  # idempotent with both objects there
    set_status(cluster, DEPLOYMENTS, "tb-train-mnist", {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1,
                                                        "availableReplicas": 1})
    assert client.get("/tensorboards/ml/train-mnist").json["ready"] is True
    listing = client.get("/tensorboards/ml").json
    instances = [(i["name"], i["mode"], i["ready"]) for i in listing["instances"]]
    assert instances == [("tb-train-mnist", "deployment", True)]
    assert client.delete("/tensorboards/ml/train-mnist").status_code == 200
    assert store.find(store.type_of(*DEPLOYMENTS), "ml") == [] and store.find(store.type_of(*SERVICES), "ml") == []


# --- teardown and listing -----------------------------------------------------------------------------


def test_delete_tears_the_instance_down_and_a_second_delete_is_a_404(client: flask.testing.FlaskClient,
                                                                      cluster: Emulator) -> None:
    seed_workflow(cluster)
    client.put("/tensorboards/ml/train-mnist", headers=AUTH)
    response = client.delete("/tensorboards/ml/train-mnist", headers=AUTH)
    assert response.status_code == 200 and response.json["deleted"] == "tb-train-mnist"
    assert cluster.store.find(cluster.store.type_of(*KSVC), "ml") == []
    assert client.delete("/tensorboards/ml/train-mnist", headers=AUTH).status_code == 404
    assert client.get("/tensorboards/ml/train-mnist", headers=AUTH).status_code == 404


@pytest.mark.parametrize("mode", ["knative", "deployment"])
def test_an_instance_left_by_an_earlier_workflow_of_the_name_is_adopted_by_the_new_one(
        cluster: Emulator, serve: Serve, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("TENSORBOARD_MODE", mode)
    monkeypatch.setenv("TENSORBOARD_AUTH", "off")
    client, store = serve("tensorboard"), cluster.store
    seed_workflow(cluster)
    assert client.put("/tensorboards/ml/train-mnist").status_code == 200
    # Deleted and submitted again before the garbage collector got to the instance.
    store.delete(store.type_of(*WORKFLOWS), "ml", "train-mnist", propagation="Orphan")
    new = seed_workflow(cluster)
    assert client.put("/tensorboards/ml/train-mnist").status_code == 200
    parts = [KSVC] if mode == "knative" else [DEPLOYMENTS, SERVICES]
    for resource in parts:
        owners = store.get(store.type_of(*resource), "ml", "tb-train-mnist")["metadata"]["ownerReferences"]
        assert new["metadata"]["uid"] in {ref["uid"] for ref in owners}
    store.delete(store.type_of(*WORKFLOWS), "ml", "train-mnist")
    assert all(store.find(store.type_of(*resource), "ml") == [] for resource in parts)


def test_objects_merely_named_like_an_instance_are_never_changed_touched_or_deleted(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    store = cluster.store
    theirs = store.create(store.type_of(*KSVC), "ml", {
        "apiVersion": "serving.knative.dev/v1", "kind": "Service",
        "metadata": {"name": "tb-train-mnist", "labels": {"app": "their-own"}},
        "spec": {"template": {"spec": {"containers": [{"image": "their/app"}]}}}})
    seed_workflow(cluster)
    put = client.put("/tensorboards/ml/train-mnist", headers=AUTH)
    assert put.status_code == 409 and "is not the TensorBoard instance" in put.json["error"]["message"]
    assert client.get("/tensorboards/ml/train-mnist", headers=AUTH).status_code == 404
    assert client.delete("/tensorboards/ml/train-mnist", headers=AUTH).status_code == 404
    assert client.delete("/tensorboards/ml/no-such-workflow", headers=AUTH).status_code == 404
    assert ksvc(cluster) == theirs  # same spec, no annotation added, still there


def test_an_instance_labelled_for_the_workflow_but_owned_by_another_is_not_taken_over(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    # What two long workflow names whose 32-bit hashes collide would share: the instance name and label.
    store = cluster.store
    labels = {"app.kubernetes.io/managed-by": "argoml-tensorboard", "argoml.io/tensorboard-workflow": "train-mnist"}
    owner = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "other", "uid": "u-other"}
    theirs = store.create(store.type_of(*KSVC), "ml", {
        "apiVersion": "serving.knative.dev/v1", "kind": "Service",
        "metadata": {"name": "tb-train-mnist", "labels": labels, "ownerReferences": [owner]},
        "spec": {"template": {"spec": {"containers": [{"image": "tensorflow/tensorflow:2.16.1"}]}}}})
    seed_workflow(cluster)
    assert client.put("/tensorboards/ml/train-mnist", headers=AUTH).status_code == 409
    assert client.get("/tensorboards/ml/train-mnist", headers=AUTH).status_code == 404
    assert client.delete("/tensorboards/ml/train-mnist", headers=AUTH).status_code == 404
    assert ksvc(cluster) == theirs


def test_in_deployment_mode_a_foreign_service_of_the_instances_name_is_left_alone(
        cluster: Emulator, serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENSORBOARD_MODE", "deployment")
    monkeypatch.setenv("TENSORBOARD_AUTH", "off")
    client = serve("tensorboard")
    store = cluster.store
    theirs = store.create(store.type_of(*SERVICES), "ml", {
        "metadata": {"name": "tb-train-mnist"}, "spec": {"selector": {"app": "theirs"}, "ports": [{"port": 80}]}})
    seed_workflow(cluster)
    assert client.put("/tensorboards/ml/train-mnist").status_code == 409
    assert client.delete("/tensorboards/ml/train-mnist").status_code == 200  # the Deployment it did create
    assert store.find(store.type_of(*DEPLOYMENTS), "ml") == []
    assert store.get(store.type_of(*SERVICES), "ml", "tb-train-mnist") == theirs


def test_deleting_the_workflow_deletes_its_instance(client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    seed_workflow(cluster)
    client.put("/tensorboards/ml/train-mnist", headers=AUTH)
    cluster.store.delete(cluster.store.type_of(*WORKFLOWS), "ml", "train-mnist")
    assert cluster.store.find(cluster.store.type_of(*KSVC), "ml") == []


def test_listing_shows_workflows_with_tensorboard_artifacts_and_their_instances(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    seed_workflow(cluster)
    seed_workflow(cluster, workflow("sweep", "ml", pod("a", "trial-1", key_only("s1.tgz")), phase="Running",
                                    repository=MINIO_REPOSITORY))
    seed_workflow(cluster, workflow("etl", "ml", pod("a", "load", key_only("d.tgz", name="data"))))
    seed_workflow(cluster, workflow("elsewhere", "other", pod("a", "train", key_only("o.tgz"))))
    client.put("/tensorboards/ml/sweep", headers=AUTH)
    listing = client.get("/tensorboards/ml", headers=AUTH).json
    assert [(w["name"], w["phase"], w["runs"], (w["instance"] or {}).get("name")) for w in listing["workflows"]] == [
        ("sweep", "Running", ["trial-1"], "tb-sweep"), ("train-mnist", "Succeeded", ["evaluate", "train"], None)]
    assert [i["workflow"] for i in listing["instances"]] == ["sweep"]


# --- refusals -----------------------------------------------------------------------------------------


def test_listing_reads_the_workflows_a_page_at_a_time(client: flask.testing.FlaskClient, cluster: Emulator,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instances, "LIST_PAGE", 2)
    for name in ("c", "a", "e", "b", "d"):
        seed_workflow(cluster, workflow(name, "ml", pod("n", "train", key_only(f"{name}.tgz")),
                                        repository=MINIO_REPOSITORY))
    listing = client.get("/tensorboards/ml", headers=AUTH).json
    assert [w["name"] for w in listing["workflows"]] == ["a", "b", "c", "d", "e"]
    assert len([c for c in cluster.calls if c.verb == "list" and c.resource == "workflows"]) == 3


def test_an_unknown_workflow_is_a_404(client: flask.testing.FlaskClient) -> None:
    response = client.put("/tensorboards/ml/nope", headers=AUTH)
    assert response.status_code == 404 and "workflow ml/nope not found" in response.json["error"]["message"]


def test_a_workflow_without_tensorboard_artifacts_is_a_422_listing_what_it_has(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    seed_workflow(cluster, workflow("etl", "ml", pod("a", "load", key_only("d.tgz", name="data"),
                                                     key_only("m.tgz", name="model"))))
    response = client.put("/tensorboards/ml/etl", headers=AUTH)
    assert response.status_code == 422
    assert response.json["error"]["message"] == ("workflow ml/etl (Succeeded) has no output artifacts named "
                                                 "'tensorboard'; found: data, model")
    assert response.json["error"]["details"] == {"found": ["data", "model"]}


@pytest.mark.parametrize("path", ["/tensorboards/ML/train", "/tensorboards/ml/Train_1", "/tensorboards/ml/a..b",
                                  "/tensorboards/ml/" + "a" * 254, "/tensorboards/" + "n" * 64,
                                  "/tensorboards/ml/%24%28reboot%29"])
def test_invalid_names_are_a_400(client: flask.testing.FlaskClient, path: str) -> None:
    for method in ("put", "get", "delete") if path.count("/") == 3 else ("get",):
        response = getattr(client, method)(path, headers=AUTH)
        assert response.status_code == 400, (method, path)
        assert "is not a valid" in response.json["error"]["message"]


@pytest.mark.parametrize(("artifact", "message"), [
    ({"hdfs": {"path": "/logs", "addresses": ["nn:8020"]}},
     "stored in hdfs (hdfs), which the log fetcher cannot download; it handles s3, gcs, azure, oss, artifactory, http"),
    ({"git": {"repo": "https://github.com/x/y"}}, "stored in git"),
    ({"oss": {"endpoint": "oss-cn-hangzhou.aliyuncs.com", "bucket": "b", "key": "k.tgz", "useSDKCreds": True}},
     "OSS with useSDKCreds (the pod's RAM role)"),
    ({"http": {"url": "https://x.example/k.tgz", "auth": {"oauth2": {"tokenURL": "https://x.example/t"}}}},
     "needs http oauth2 authentication"),
])
def test_storage_the_fetcher_cannot_handle_is_a_422_naming_it(client: flask.testing.FlaskClient, cluster: Emulator,
                                                              artifact: dict, message: str) -> None:
    seed_workflow(cluster, workflow("wf", "ml", pod("a", "train", {"name": "tensorboard", **artifact})))
    response = client.put("/tensorboards/ml/wf", headers=AUTH)
    assert response.status_code == 422 and message in response.json["error"]["message"]
    assert cluster.store.find(cluster.store.type_of(*KSVC), "ml") == []


def test_an_unknown_route_is_a_404_and_an_unknown_method_a_405(client: flask.testing.FlaskClient) -> None:
    assert client.post("/tensorboards/ml/wf", headers=AUTH).status_code == 405
    assert client.get("/tensorboards/ml/wf/extra", headers=AUTH).status_code == 404
    assert client.get("/nowhere", headers=AUTH).status_code == 404


def test_an_api_failure_is_a_503_so_the_caller_may_retry(client: flask.testing.FlaskClient,
                                                         cluster: Emulator) -> None:
    seed_workflow(cluster)
    cluster.fail(503, method="POST", resource="services")
    response = client.put("/tensorboards/ml/train-mnist", headers=AUTH)
    assert response.status_code == 503
    assert "creating services.serving.knative.dev ml/tb-train-mnist" in response.json["error"]["message"]
    assert client.put("/tensorboards/ml/train-mnist", headers=AUTH).status_code == 200


def test_requests_identify_the_function_to_the_api_server(client: flask.testing.FlaskClient,
                                                          cluster: Emulator) -> None:
    seed_workflow(cluster)
    client.put("/tensorboards/ml/train-mnist", headers=AUTH)
    assert {c.agent for c in cluster.calls} == {"argoml-tensorboard"}


# --- who may call it ----------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic YWxpY2U6cHc="}, {"Authorization": "Bearer "},
                                     {"Authorization": "Bearer stolen-or-expired"}])
def test_callers_without_a_valid_token_get_401(client: flask.testing.FlaskClient, cluster: Emulator,
                                               headers: dict[str, str]) -> None:
    seed_workflow(cluster)
    for method in ("put", "get", "delete"):
        assert getattr(client, method)("/tensorboards/ml/train-mnist", headers=headers).status_code == 401
    assert client.get("/tensorboards/ml", headers=headers).status_code == 401
    assert cluster.store.find(cluster.store.type_of(*KSVC), "ml") == []


def test_callers_who_may_not_read_the_namespaces_workflows_get_403(client: flask.testing.FlaskClient,
                                                                   cluster: Emulator) -> None:
    seed_workflow(cluster)
    cluster.access.tokens["bob-token"] = {"username": "bob", "groups": ["system:authenticated"]}
    cluster.access.grants.add(("bob", "get", "argoproj.io", "workflows", "other"))
    cluster.access.grants.add(("bob", "list", "argoproj.io", "workflows", "ml"))
    bob = {"Authorization": "Bearer bob-token"}
    response = client.put("/tensorboards/ml/train-mnist", headers=bob)
    assert response.status_code == 403
    assert response.json["error"]["message"] == "user 'bob' may not get workflows.argoproj.io in namespace 'ml'"
    assert client.get("/tensorboards/ml", headers=bob).status_code == 403
    cluster.access.grants.add(("bob", "get", "argoproj.io", "workflows", "*"))
    assert client.put("/tensorboards/ml/train-mnist", headers=bob).status_code == 200


def test_access_granted_to_a_callers_group_is_honoured_with_its_whole_identity(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    seed_workflow(cluster)
    cluster.access.tokens["carol-token"] = {
        "username": "carol", "uid": "c-42", "groups": ["vision", "system:authenticated"],
        "extra": {"authentication.kubernetes.io/credential-id": ["JTI=abc"]}}
    cluster.access.grants.add(("group:vision", "get", "argoproj.io", "workflows", "ml"))
    carol = {"Authorization": "Bearer carol-token"}
    assert client.put("/tensorboards/ml/train-mnist", headers=carol).status_code == 200
    assert cluster.access.reviews[-1] | {"resourceAttributes": None} == {
        "user": "carol", "uid": "c-42", "groups": ["vision", "system:authenticated"],
        "extra": {"authentication.kubernetes.io/credential-id": ["JTI=abc"]}, "resourceAttributes": None}


def test_an_allow_list_of_namespaces_narrows_who_is_served(cluster: Emulator, serve: Serve,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENSORBOARD_NAMESPACES", "research, ml")
    cluster.access.tokens[TOKEN] = {"username": "alice", "groups": []}
    cluster.access.grants.add(("alice", "get", "argoproj.io", "workflows", "*"))
    client = serve("tensorboard")
    seed_workflow(cluster)
    seed_workflow(cluster, workflow("train-mnist", "prod", pod("a", "train", key_only("k.tgz")),
                                    repository=MINIO_REPOSITORY))
    assert client.put("/tensorboards/ml/train-mnist", headers=AUTH).status_code == 200
    response = client.put("/tensorboards/prod/train-mnist", headers=AUTH)
    assert response.status_code == 403 and "namespace 'prod' is not served" in response.json["error"]["message"]
    anonymous = client.put("/tensorboards/prod/train-mnist")
    assert anonymous.status_code == 401 and "research" not in anonymous.json["error"]["message"]


def test_turning_the_check_off_serves_anyone_and_logs_it_loudly(cluster: Emulator, serve: Serve,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("TENSORBOARD_AUTH", "off")
    from argoml.tensorboard import access

    access._warn_disabled.cache_clear()
    with caplog.at_level(logging.WARNING, logger="argoml.tensorboard.access"):
        client = serve("tensorboard")
        seed_workflow(cluster)
        assert client.put("/tensorboards/ml/train-mnist").status_code == 200
    assert any("AUTHENTICATION IS OFF" in r.message for r in caplog.records)
    assert any("NOT AUTHENTICATED" in r.message for r in caplog.records)
    assert not [c for c in cluster.calls if "review" in c.resource]


def test_the_page_is_served_without_a_token_and_loads_nothing_from_elsewhere(
        client: flask.testing.FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "tensorboards/" in html and "Authorization" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"@import|url\(", html)
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_knative_feature_patch_enables_every_gated_field_the_instance_uses(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    listed = subprocess.run(["bash", str(ROOT / "hack" / "knative-features.sh"), "list"], capture_output=True,
                            text=True, check=True).stdout.split("\n")
    patch = {"data": {line.split()[1]: "enabled" for line in listed if line.startswith("knative-serving ")}}
    seed_workflow(cluster)
    client.put("/tensorboards/ml/train-mnist", headers=AUTH)
    spec = ksvc(cluster)["spec"]["template"]["spec"]
    gated = {"kubernetes.podspec-init-containers": "initContainers" in spec,
             "kubernetes.podspec-volumes-emptydir": any("emptyDir" in v for v in spec["volumes"]),
             "kubernetes.podspec-securitycontext": "securityContext" in spec}
    assert {flag for flag, used in gated.items() if used} == {
        flag for flag, value in patch["data"].items() if value == "enabled"}
