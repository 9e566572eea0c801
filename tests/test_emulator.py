"""The API emulator behaves like an API server where the functions depend on it.

Everything here goes through the real ``kubernetes`` client over HTTP.
"""

from __future__ import annotations

import pytest
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from argoml import kube
from argoml.dev.emulator import Emulator

GROUP, VERSION = "argoml.io", "v1alpha1"


def _hpw(name: str, **spec: object) -> dict:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "HyperparamWorkflow", "metadata": {"name": name},
            "spec": spec or {"entrypoint": "main"}}


def _create_hpw(name: str, namespace: str = "ml", **spec: object) -> dict:
    return kube.custom().create_namespaced_custom_object(GROUP, VERSION, namespace, "hyperparamworkflows",
                                                         _hpw(name, **spec))


def test_create_sets_server_fields(cluster: Emulator) -> None:
    created = _create_hpw("a")
    meta = created["metadata"]
    assert meta["namespace"] == "ml" and meta["generation"] == 1
    assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"].endswith("Z")
    assert _create_hpw("b")["metadata"]["uid"] != meta["uid"]


def test_generate_name_appends_a_suffix(cluster: Emulator) -> None:
    pod = kube.core().create_namespaced_pod("ml", {"metadata": {"generateName": "train-"}})
    assert pod.metadata.name.startswith("train-") and len(pod.metadata.name) == len("train-") + 5


def test_duplicate_create_is_409_already_exists(cluster: Emulator) -> None:
    _create_hpw("a")
    with pytest.raises(ApiException) as error:
        _create_hpw("a")
    assert isinstance(kube.translated(error.value, "creating"), kube.AlreadyExists)


def test_missing_object_is_404_not_found(cluster: Emulator) -> None:
    with pytest.raises(ApiException) as error:
        kube.custom().get_namespaced_custom_object(GROUP, VERSION, "ml", "hyperparamworkflows", "nope")
    failure = kube.translated(error.value, "reading")
    assert isinstance(failure, kube.NotFound)
    assert failure.api_message == 'hyperparamworkflows.argoml.io "nope" not found'


def test_invalid_name_is_422(cluster: Emulator) -> None:
    with pytest.raises(ApiException) as error:
        _create_hpw("Not_A_Name")
    assert error.value.status == 422


def test_status_is_a_subresource(cluster: Emulator) -> None:
    api = kube.custom()
    created = api.create_namespaced_custom_object(GROUP, VERSION, "ml", "hyperparamworkflows",
                                                  {**_hpw("a"), "status": {"phase": "Forged"}})
    assert "status" not in created  # ignored on create
    api.patch_namespaced_custom_object_status(GROUP, VERSION, "ml", "hyperparamworkflows", "a",
                                              {"status": {"phase": "Running"}})
    api.patch_namespaced_custom_object(GROUP, VERSION, "ml", "hyperparamworkflows", "a",
                                       {"status": {"phase": "Ignored"}})
    current = api.get_namespaced_custom_object(GROUP, VERSION, "ml", "hyperparamworkflows", "a")
    assert current["status"] == {"phase": "Running"}


def test_generation_counts_spec_changes_only(cluster: Emulator) -> None:
    api = kube.custom()
    _create_hpw("a")
    args = (GROUP, VERSION, "ml", "hyperparamworkflows", "a")
    api.patch_namespaced_custom_object(*args, {"metadata": {"labels": {"x": "y"}}})
    api.patch_namespaced_custom_object_status(*args, {"status": {"phase": "Running"}})
    assert api.get_namespaced_custom_object(*args)["metadata"]["generation"] == 1
    api.patch_namespaced_custom_object(*args, {"spec": {"entrypoint": "other"}})
    assert api.get_namespaced_custom_object(*args)["metadata"]["generation"] == 2


def test_stale_resource_version_is_409_conflict(cluster: Emulator) -> None:
    api = kube.custom()
    created = _create_hpw("a")
    args = (GROUP, VERSION, "ml", "hyperparamworkflows", "a")
    api.patch_namespaced_custom_object(*args, {"spec": {"entrypoint": "b"}})
    with pytest.raises(ApiException) as error:
        api.replace_namespaced_custom_object(*args, created)
    failure = kube.translated(error.value, "replacing")
    assert isinstance(failure, kube.Conflict) and failure.reason == "Conflict"


def test_json_patch_is_applied(cluster: Emulator) -> None:
    _create_hpw("a")
    kube.custom().patch_namespaced_custom_object(
        GROUP, VERSION, "ml", "hyperparamworkflows", "a",
        [{"op": "add", "path": "/metadata/labels", "value": {"team": "vision"}}],
        _content_type="application/json-patch+json")
    assert cluster.store.find(cluster.store.type_of(GROUP, VERSION, "hyperparamworkflows"),
                              label_selector="team=vision")


@pytest.mark.parametrize(("selector", "expected"), [
    ("team=vision", {"a"}),
    ("team==vision", {"a"}),
    ("team!=vision", {"b", "c"}),
    ("team", {"a", "b"}),
    ("!team", {"c"}),
    ("team in (vision, nlp)", {"a", "b"}),
    ("team notin (vision)", {"b", "c"}),
    ("team,tier=gpu", {"b"}),
])
def test_label_selectors_filter_lists(cluster: Emulator, selector: str, expected: set[str]) -> None:
    core = kube.core()
    for name, labels in {"a": {"team": "vision"}, "b": {"team": "nlp", "tier": "gpu"}, "c": {}}.items():
        core.create_namespaced_pod("ml", {"metadata": {"name": name, "labels": labels}})
    assert {p.metadata.name for p in core.list_namespaced_pod("ml", label_selector=selector).items} == expected


def test_field_selectors_filter_lists(cluster: Emulator) -> None:
    pods = cluster.store.type_of("", "v1", "pods")
    for name, phase in (("done", "Succeeded"), ("busy", "Running")):
        cluster.store.create(pods, "ml", {"metadata": {"name": name}, "status": {"phase": phase}}, keep_status=True)
    listed = kube.core().list_namespaced_pod("ml", field_selector="status.phase!=Running")
    assert [p.metadata.name for p in listed.items] == ["done"]


def test_lists_are_scoped_to_the_namespace(cluster: Emulator) -> None:
    core = kube.core()
    core.create_namespaced_pod("a", {"metadata": {"name": "p"}})
    core.create_namespaced_pod("b", {"metadata": {"name": "p"}})
    assert len(core.list_namespaced_pod("a").items) == 1
    assert len(core.list_pod_for_all_namespaces().items) == 2


def test_lists_paginate_with_limit_and_continue(cluster: Emulator) -> None:
    core = kube.core()
    for index in range(7):
        core.create_namespaced_pod("ml", {"metadata": {"name": f"p{index}"}})
    names, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_pod("ml", limit=3, _continue=token)
        names += [p.metadata.name for p in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    assert names == [f"p{i}" for i in range(7)] and pages == 3


def test_delete_cascades_to_owned_objects(cluster: Emulator) -> None:
    owner = _create_hpw("owner")
    ref = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "HyperparamWorkflow", "name": "owner",
           "uid": owner["metadata"]["uid"], "controller": True}
    api = kube.custom()
    api.create_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflows",
                                        {"metadata": {"name": "wf", "ownerReferences": [ref]}})
    wf_ref = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "wf",
              "uid": cluster.store.get(cluster.store.type_of("argoproj.io", "v1alpha1", "workflows"), "ml",
                                       "wf")["metadata"]["uid"]}
    kube.core().create_namespaced_pod("ml", {"metadata": {"name": "wf-pod", "ownerReferences": [wf_ref]}})
    kube.core().create_namespaced_pod("ml", {"metadata": {"name": "unrelated"}})
    api.delete_namespaced_custom_object(GROUP, VERSION, "ml", "hyperparamworkflows", "owner")
    assert not cluster.store.find(cluster.store.type_of("argoproj.io", "v1alpha1", "workflows"))
    assert [p.metadata.name for p in kube.core().list_namespaced_pod("ml").items] == ["unrelated"]


def test_orphan_propagation_keeps_dependents(cluster: Emulator) -> None:
    owner = _create_hpw("owner")
    ref = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "HyperparamWorkflow", "name": "owner",
           "uid": owner["metadata"]["uid"]}
    kube.core().create_namespaced_pod("ml", {"metadata": {"name": "kept", "ownerReferences": [ref]}})
    kube.custom().delete_namespaced_custom_object(GROUP, VERSION, "ml", "hyperparamworkflows", "owner",
                                                  propagation_policy="Orphan")
    assert kube.core().read_namespaced_pod("kept", "ml").metadata.name == "kept"


def test_delete_preconditions_must_match_the_stored_object(cluster: Emulator) -> None:
    from kubernetes.client import V1DeleteOptions, V1Preconditions

    core = kube.core()
    uid = core.create_namespaced_pod("ml", {"metadata": {"name": "p"}}).metadata.uid
    with pytest.raises(ApiException) as error:
        core.delete_namespaced_pod("p", "ml", body=V1DeleteOptions(preconditions=V1Preconditions(uid="other")))
    failure = kube.translated(error.value, "deleting")
    assert isinstance(failure, kube.Conflict) and "Precondition failed: UID" in failure.api_message
    core.delete_namespaced_pod("p", "ml", body=V1DeleteOptions(preconditions=V1Preconditions(uid=uid)))
    assert core.list_namespaced_pod("ml").items == []


def test_finalizers_hold_deletion_until_removed(cluster: Emulator) -> None:
    core = kube.core()
    core.create_namespaced_pod("ml", {"metadata": {"name": "p", "finalizers": ["example.com/hold"]}})
    core.delete_namespaced_pod("p", "ml")
    assert core.read_namespaced_pod("p", "ml").metadata.deletion_timestamp is not None
    core.patch_namespaced_pod("p", "ml", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as error:
        core.read_namespaced_pod("p", "ml")
    assert error.value.status == 404


def test_watch_streams_changes_after_a_resource_version(cluster: Emulator) -> None:
    core = kube.core()
    revision = core.list_namespaced_pod("ml").metadata.resource_version
    core.create_namespaced_pod("ml", {"metadata": {"name": "p", "labels": {"w": "1"}}})
    core.patch_namespaced_pod("p", "ml", {"metadata": {"labels": {"w": "2"}}})
    core.delete_namespaced_pod("p", "ml")
    seen = [(e["type"], e["object"].metadata.labels["w"])
            for e in watch.Watch().stream(core.list_namespaced_pod, "ml", resource_version=revision,
                                          timeout_seconds=1)]
    assert seen == [("ADDED", "1"), ("MODIFIED", "2"), ("DELETED", "2")]


def test_injected_failures_answer_once_then_recover(cluster: Emulator) -> None:
    cluster.fail(503, method="POST", resource="pods")
    with pytest.raises(ApiException) as error:
        kube.core().create_namespaced_pod("ml", {"metadata": {"name": "p"}})
    assert error.value.status == 503
    assert kube.core().create_namespaced_pod("ml", {"metadata": {"name": "p"}}).metadata.name == "p"


def test_calls_are_recorded_as_rbac_sees_them(cluster: Emulator) -> None:
    with kube.acting_as("gc"):
        kube.core().list_namespaced_pod("ml")
    _create_hpw("a")
    kube.custom().patch_namespaced_custom_object_status(GROUP, VERSION, "ml", "hyperparamworkflows", "a",
                                                       {"status": {}})
    assert [(c.agent, c.verb, c.group, c.resource, c.namespace) for c in cluster.calls] == [
        ("argoml-gc", "list", "", "pods", "ml"),
        ("argoml-cli", "create", GROUP, "hyperparamworkflows", "ml"),
        ("argoml-cli", "patch", GROUP, "hyperparamworkflows/status", "ml"),
    ]


def test_reviews_answer_from_the_access_tables(cluster: Emulator) -> None:
    cluster.access.tokens["t0k3n"] = {"username": "alice", "groups": ["ml"]}
    cluster.access.grants.add(("alice", "get", "argoproj.io", "workflows", "ml"))
    status = kube.create(kube.TOKEN_REVIEWS, None, {"spec": {"token": "t0k3n"}})["status"]
    assert status["authenticated"] and status["user"]["username"] == "alice"
    assert not kube.create(kube.TOKEN_REVIEWS, None, {"spec": {"token": "wrong"}})["status"]["authenticated"]
    attributes = {"verb": "get", "group": "argoproj.io", "resource": "workflows", "namespace": "ml"}
    sar = {"spec": {"user": "alice", "resourceAttributes": attributes}}
    assert kube.create(kube.SUBJECT_ACCESS_REVIEWS, None, sar)["status"]["allowed"]
    attributes["namespace"] = "other"
    assert not kube.create(kube.SUBJECT_ACCESS_REVIEWS, None, sar)["status"].get("allowed")
