"""Finding a workflow's output artifacts in status.nodes and resolving where they are stored."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from argoml import argo
from argoml.dev.emulator import Emulator
from argoml.errors import Unprocessable, UpstreamError
from argoml.tensorboard import artifacts
from tests.workflow_status import MINIO_REPOSITORY, group, key_only, pod, seed, workflow

CONFIGMAPS = ("", "v1", "configmaps")


def runs(wf: dict, name: str = "tensorboard") -> list[str]:
    return [a.run for a in artifacts.output_artifacts(wf, name)]


# The repository ConfigMaps these tests' workflows name, as an operator would list them
# (TENSORBOARD_REPOSITORY_CONFIGMAPS); by default only artifact-repositories is read.
READABLE = ("artifact-repositories", "team-repos", "repos", "special", "missing")


def locate(wf: dict, configmaps: tuple[str, ...] = READABLE) -> list[artifacts.Location]:
    locator = artifacts.Locator(wf, configmaps=configmaps)
    return [locator.locate(a) for a in artifacts.output_artifacts(wf, "tensorboard")]


def seed_configmap(cluster: Emulator, namespace: str, name: str, data: dict, annotations: dict | None = None) -> None:
    body = {"metadata": {"name": name, "annotations": annotations or {}}, "data": data}
    cluster.store.create(cluster.store.type_of(*CONFIGMAPS), namespace, body)


# --- walking the nodes --------------------------------------------------------------------------------


def test_steps_and_dag_tasks_each_become_a_run_named_after_the_step() -> None:
    wf = workflow("wf", "ml",
                  pod("a", "train", key_only("wf/a/tensorboard.tgz"), key_only("wf/a/model.tgz", name="model")),
                  pod("b", "evaluate", key_only("wf/b/tensorboard.tgz")),
                  pod("c", "preprocess", key_only("wf/c/data.tgz", name="data")))
    assert runs(wf) == ["evaluate", "train"]
    found = {a.run: a for a in artifacts.output_artifacts(wf, "tensorboard")}
    assert found["train"].node_id == "a" and found["train"].artifact["s3"]["key"] == "wf/a/tensorboard.tgz"


def test_a_retried_step_is_one_run_named_after_the_retry_node() -> None:
    # Argo copies the last attempt's outputs onto the Retry node: the location appears twice.
    logs = key_only("wf/attempt-2/tensorboard.tgz")
    wf = workflow("wf", "ml",
                  group("r", "train", "Retry", ["a1", "a2"], logs),
                  pod("a1", "train(0)", phase="Failed"),
                  pod("a2", "train(1)", logs, started="2026-11-28T10:05:00Z"))
    found = artifacts.output_artifacts(wf, "tensorboard")
    assert [(a.run, a.node_id) for a in found] == [("train", "a2")]


def test_loop_iterations_are_separate_runs_with_safe_unique_names() -> None:
    wf = workflow("wf", "ml",
                  pod("i0", "train(0:lr=0.1)", key_only("wf/i0/tensorboard.tgz")),
                  pod("i1", "train(1:lr=0.2)", key_only("wf/i1/tensorboard.tgz")),
                  pod("x1", "../etc/passwd", key_only("wf/x1/tensorboard.tgz")),
                  pod("x2", "eval/step", key_only("wf/x2/tensorboard.tgz")),
                  pod("x3", "eval/step", key_only("wf/x3/tensorboard.tgz")))
    assert runs(wf) == ["_etc_passwd", "eval_step", "eval_step-2", "train(0:lr=0.1)", "train(1:lr=0.2)"]


def test_outputs_passed_on_by_a_steps_group_are_not_counted_twice() -> None:
    logs = key_only("wf/train/tensorboard.tgz")
    wf = workflow("wf", "ml", group("s", "main", "Steps", ["t"], logs), pod("t", "train", logs))
    assert runs(wf) == ["train"]


def test_a_running_workflow_shows_the_logs_that_exist_so_far() -> None:
    wf = workflow("wf", "ml", pod("a", "epoch-1", key_only("wf/a/tensorboard.tgz")),
                  pod("b", "epoch-2", phase="Running"), phase="Running")
    assert runs(wf) == ["epoch-1"]


def test_the_artifact_name_is_configurable_and_other_names_are_reported() -> None:
    wf = workflow("wf", "ml", pod("a", "train", key_only("k1", name="tb-logs"), key_only("k2", name="model")))
    assert runs(wf) == [] and runs(wf, "tb-logs") == ["train"]
    assert artifacts.artifact_names(wf) == ["model", "tb-logs"]


def test_a_workflow_without_status_has_no_artifacts() -> None:
    wf = workflow("wf", "ml")
    del wf["status"]
    assert runs(wf) == [] and artifacts.artifact_names(wf) == []


# --- storage kinds ------------------------------------------------------------------------------------


MINIO_CREDENTIALS = {"accessKeySecret": {"name": "minio-creds", "key": "accesskey"},
                     "secretKeySecret": {"name": "minio-creds", "key": "secretkey"}}


def test_an_inline_s3_location_without_credentials_is_used_as_given(cluster: Emulator) -> None:
    s3 = {"bucket": "b", "endpoint": "s3.eu-west-1.amazonaws.com", "region": "eu-west-1", "key": "runs/x.tgz"}
    wf = workflow("wf", "ml", pod("a", "train", {"name": "tensorboard", "s3": s3}))
    [location] = locate(wf)
    assert location == artifacts.Location("s3", s3, "tgz", {})
    assert location.describe() == "s3://b/runs/x.tgz"


def test_an_inline_location_in_the_repositorys_store_gets_the_repositorys_credentials(cluster: Emulator) -> None:
    # What Argo 2.x recorded: the whole location, the repository's secret references copied in.
    s3 = {"bucket": "ml-artifacts", "endpoint": "minio.argo:9000", "key": "runs/x.tgz", **MINIO_CREDENTIALS}
    wf = seed(cluster, workflow("wf", "ml", pod("a", "train", {"name": "tensorboard", "s3": s3}),
                                repository=MINIO_REPOSITORY))
    [location] = locate(wf)
    assert dict(location.config) == {"bucket": "ml-artifacts", "endpoint": "minio.argo:9000", "key": "runs/x.tgz"}
    assert location.secrets == MINIO_CREDENTIALS


@pytest.mark.parametrize("s3", [
    {"bucket": "ml-artifacts", "endpoint": "attacker.example:9000", "key": "x.tgz", **MINIO_CREDENTIALS},
    {"bucket": "other-team", "endpoint": "minio.argo:9000", "key": "x.tgz", **MINIO_CREDENTIALS},
    {"bucket": "ml-artifacts", "endpoint": "minio.argo:9000", "key": "x.tgz",
     "accessKeySecret": {"name": "prod-db-root", "key": "password"}},
])
def test_credentials_a_forged_status_names_itself_are_refused(cluster: Emulator, s3: dict) -> None:
    # Regression (issue 11): a status naming any Secret of the namespace, or the repository's Secret for
    # another store, would have put secretKeyRefs to it into an instance's init container.
    wf = seed(cluster, workflow("wf", "ml", pod("a", "train", {"name": "tensorboard", "s3": s3}),
                                repository=MINIO_REPOSITORY))
    if s3["bucket"] == "ml-artifacts" and s3["endpoint"] == "minio.argo:9000":
        [location] = locate(wf)  # the repository's own store: its credentials, never the named one
        assert location.secrets == MINIO_CREDENTIALS
        return
    with pytest.raises(Unprocessable, match="names its own credentials"):
        locate(wf)


def test_the_repository_copy_in_the_status_is_never_trusted(cluster: Emulator) -> None:
    # Regression (issue 11): status.artifactRepositoryRef.artifactRepository is user-writable.
    forged = {"s3": {"bucket": "evil", "endpoint": "attacker.example", "accessKeySecret": {"name": "prod-db-root",
                                                                                            "key": "password"}}}
    seed(cluster, workflow("real", "ml", repository=MINIO_REPOSITORY))  # the namespace's real repository
    wf = workflow("wf", "ml", pod("a", "train", key_only("k.tgz")), repository=forged)
    [location] = locate(wf)
    assert (location.config["bucket"], location.config["endpoint"]) == ("ml-artifacts", "minio.argo:9000")
    assert location.secrets == MINIO_CREDENTIALS


def test_a_key_only_artifact_keeps_only_its_key(cluster: Emulator) -> None:
    # An endpoint beside the key must not send the repository's credentials elsewhere.
    artifact = {"name": "tensorboard", "s3": {"key": "k.tgz", "endpoint": "attacker.example", "region": "x"}}
    wf = seed(cluster, workflow("wf", "ml", pod("a", "train", artifact), repository=MINIO_REPOSITORY))
    [location] = locate(wf)
    assert location.config["endpoint"] == "minio.argo:9000" and location.config["key"] == "k.tgz"
    assert "region" not in location.config


@pytest.mark.parametrize(("kind", "config", "described"), [
    ("gcs", {"bucket": "ml", "key": "tb/x.tgz"}, "gcs://ml/tb/x.tgz"),
    ("azure", {"endpoint": "https://acct.blob.core.windows.net", "container": "ml", "blob": "tb/x.tgz"},
     "azure https://acct.blob.core.windows.net/ml/tb/x.tgz"),
    ("http", {"url": "https://files.example/tb/x.tgz", "headers": [{"name": "X-Team", "value": "vision"}]},
     "http https://files.example/tb/x.tgz"),
])
def test_inline_gcs_azure_and_http_locations_resolve_as_given(cluster: Emulator, kind: str, config: dict,
                                                              described: str) -> None:
    wf = workflow("wf", "ml", pod("a", "train", {"name": "tensorboard", kind: config}))
    [location] = locate(wf)
    assert (location.kind, dict(location.config), location.describe()) == (kind, config, described)


@pytest.mark.parametrize(("archive", "expected"), [(None, "tgz"), ({"tar": {"compressionLevel": 9}}, "tgz"),
                                                   ({"none": {}}, "none"), ({"zip": {}}, "zip")])
def test_archiving_follows_the_artifacts_archive_field(cluster: Emulator, archive: dict | None,
                                                      expected: str) -> None:
    extra: dict[str, Any] = {"archive": archive} if archive is not None else {}
    artifact = key_only("wf/a/tensorboard", **extra)
    wf = seed(cluster, workflow("wf", "ml", pod("a", "train", artifact), repository=MINIO_REPOSITORY))
    assert locate(wf)[0].archive == expected


# --- key-only artifacts and artifact repositories -----------------------------------------------------


def test_a_key_only_artifact_takes_bucket_and_credentials_from_the_recorded_repository(cluster: Emulator) -> None:
    wf = seed(cluster, workflow("wf", "ml", pod("a", "train", key_only("wf/a/tensorboard.tgz")),
                                repository=MINIO_REPOSITORY))
    [location] = locate(wf)
    assert location.kind == "s3"
    assert dict(location.config) == {"bucket": "ml-artifacts", "endpoint": "minio.argo:9000", "insecure": True,
                                     "key": "wf/a/tensorboard.tgz"}
    assert location.secrets == MINIO_CREDENTIALS


@pytest.mark.parametrize(("kind", "repository", "artifact", "expected"), [
    ("gcs", {"gcs": {"bucket": "ml", "keyFormat": "{{workflow.name}}", "serviceAccountKeySecret": {"name": "g",
                                                                                                  "key": "j"}}},
     {"gcs": {"key": "wf/x.tgz"}},
     {"bucket": "ml", "key": "wf/x.tgz", "serviceAccountKeySecret": {"name": "g", "key": "j"}}),
    ("azure", {"azure": {"endpoint": "https://a.blob.core.windows.net", "container": "c", "blobNameFormat": "x",
                         "accountKeySecret": {"name": "az", "key": "k"}}},
     {"azure": {"blob": "wf/x.tgz"}},
     {"endpoint": "https://a.blob.core.windows.net", "container": "c", "blob": "wf/x.tgz",
      "accountKeySecret": {"name": "az", "key": "k"}}),
    ("artifactory", {"artifactory": {"repoURL": "https://art.example/repo/", "usernameSecret": {"name": "a",
                                                                                              "key": "u"}}},
     {"artifactory": {"key": "wf/x.tgz"}},
     {"url": "https://art.example/repo/wf/x.tgz", "usernameSecret": {"name": "a", "key": "u"}}),
])
def test_key_only_artifacts_of_each_repository_kind_are_relocated(cluster: Emulator, kind: str, repository: dict,
                                                                  artifact: dict, expected: dict) -> None:
    wf = seed(cluster, workflow("wf", "ml", pod("a", "train", {"name": "tensorboard", **artifact}),
                                repository=repository))
    [location] = locate(wf)
    plain, secrets = artifacts.split_secrets(expected)
    assert (location.kind, dict(location.config), location.secrets) == (kind, plain, secrets)


def test_the_repository_named_by_the_status_ref_is_read_from_its_configmap(cluster: Emulator) -> None:
    seed_configmap(cluster, "ml", "team-repos", {"v2": yaml.safe_dump(MINIO_REPOSITORY)})
    ref = {"configMap": "team-repos", "key": "v2", "namespace": "ml"}
    wf = workflow("wf", "ml", pod("a", "train", key_only("k.tgz")), status_extra={"artifactRepositoryRef": ref})
    assert locate(wf)[0].config["bucket"] == "ml-artifacts"


def test_a_status_ref_may_name_only_the_workflows_namespace_or_the_controllers_default(cluster: Emulator) -> None:
    for namespace in ("argo", "kube-system"):
        seed_configmap(cluster, namespace, "repos", {"v1": yaml.safe_dump(MINIO_REPOSITORY)})
    ref = {"configMap": "repos", "key": "v1", "namespace": "argo"}
    wf = workflow("wf", "ml", pod("a", "train", key_only("k.tgz")), status_extra={"artifactRepositoryRef": ref})
    for namespace in ("argo", "kube-system"):
        ref["namespace"] = namespace
        with pytest.raises(Unprocessable, match=f"names namespace '{namespace}'; an artifact repository is read only"):
            locate(wf)
    assert not [c for c in cluster.calls if c.resource == "configmaps" and c.namespace != "ml"]


def test_only_the_repository_configmaps_the_operator_lists_are_read(cluster: Emulator) -> None:
    # The role names the same ConfigMaps: another name would be a 403 from the API server (a 5xx here).
    seed_configmap(cluster, "ml", "kube-root-ca.crt", {"v1": yaml.safe_dump(MINIO_REPOSITORY)})
    wf = workflow("wf", "ml", pod("a", "train", key_only("k.tgz")),
                  status_extra={"artifactRepositoryRef": {"configMap": "kube-root-ca.crt", "key": "v1"}})
    with pytest.raises(Unprocessable, match=r"this function reads only artifact-repositories \(an operator adds"):
        locate(wf, configmaps=("artifact-repositories",))
    assert not [c for c in cluster.calls if c.resource == "configmaps"]


def test_a_configmap_the_role_does_not_grant_is_a_422_not_an_api_failure(cluster: Emulator) -> None:
    cluster.fail(403, resource="configmaps")
    wf = workflow("wf", "ml", pod("a", "train", key_only("k.tgz")),
                  status_extra={"artifactRepositoryRef": {"configMap": "artifact-repositories", "key": "v1"}})
    with pytest.raises(Unprocessable, match="may not read ConfigMap ml/artifact-repositories"):
        locate(wf)


def test_without_a_key_the_configmaps_default_annotation_picks_the_repository(cluster: Emulator) -> None:
    other = {"s3": {**MINIO_REPOSITORY["s3"], "bucket": "other"}}
    seed_configmap(cluster, "ml", "artifact-repositories",
                   {"v1": yaml.safe_dump(other), "v2": yaml.safe_dump(MINIO_REPOSITORY)},
                   {argo.DEFAULT_REPOSITORY_ANNOTATION: "v2"})
    wf = workflow("wf", "ml", pod("a", "train", key_only("k.tgz")),
                  status_extra={"artifactRepositoryRef": {"namespace": "ml"}})
    assert locate(wf)[0].config["bucket"] == "ml-artifacts"


def test_the_default_ref_means_the_controllers_configured_repository(cluster: Emulator) -> None:
    seed_configmap(cluster, "argo", "workflow-controller-configmap",
                   {"artifactRepository": yaml.safe_dump({"archiveLogs": True, **MINIO_REPOSITORY})})
    wf = workflow("wf", "ml", pod("a", "train", key_only("k.tgz")),
                  status_extra={"artifactRepositoryRef": {"default": True}})
    assert locate(wf)[0].config["endpoint"] == "minio.argo:9000"
    assert ("v1", "configmaps", "argo", "workflow-controller-configmap") in {
        (c.group or "v1", c.resource, c.namespace, c.name) for c in cluster.calls}


def test_the_controllers_namespace_and_configmap_name_are_configurable(cluster: Emulator) -> None:
    seed_configmap(cluster, "argo-system", "controller", {"artifactRepository": yaml.safe_dump(MINIO_REPOSITORY)})
    wf = workflow("wf", "ml", pod("a", "train", key_only("k.tgz")))
    [artifact] = artifacts.output_artifacts(wf, "tensorboard")
    location = artifacts.Locator(wf, "argo-system", "controller").locate(artifact)
    assert location.config["bucket"] == "ml-artifacts"


def test_the_controllers_pre_v3_config_key_is_understood(cluster: Emulator) -> None:
    config = {"artifactRepository": MINIO_REPOSITORY, "containerRuntimeExecutor": "emissary"}
    seed_configmap(cluster, "argo", "workflow-controller-configmap", {"config": yaml.safe_dump(config)})
    wf = workflow("wf", "ml", pod("a", "train", key_only("k.tgz")))
    assert locate(wf)[0].config["bucket"] == "ml-artifacts"


def test_without_a_status_ref_the_spec_ref_then_the_namespace_default_then_the_controller_apply(
        cluster: Emulator) -> None:
    def bucket(name: str) -> str:
        return yaml.safe_dump({"s3": {**MINIO_REPOSITORY["s3"], "bucket": name}})

    seed_configmap(cluster, "argo", "workflow-controller-configmap", {"artifactRepository": bucket("controller")})
    wf = workflow("wf", "ml", pod("a", "train", key_only("k.tgz")))
    assert locate(wf)[0].config["bucket"] == "controller"
    seed_configmap(cluster, "ml", "artifact-repositories", {"ns": bucket("namespace")},
                   {argo.DEFAULT_REPOSITORY_ANNOTATION: "ns"})
    assert locate(wf)[0].config["bucket"] == "namespace"
    seed_configmap(cluster, "ml", "special", {"team": bucket("spec-ref")})
    wf["spec"]["artifactRepositoryRef"] = {"configMap": "special", "key": "team"}
    assert locate(wf)[0].config["bucket"] == "spec-ref"


def test_the_repository_is_read_once_for_all_artifacts(cluster: Emulator) -> None:
    seed_configmap(cluster, "argo", "workflow-controller-configmap",
                   {"artifactRepository": yaml.safe_dump(MINIO_REPOSITORY)})
    wf = workflow("wf", "ml", *(pod(f"n{i}", f"step-{i}", key_only(f"k{i}.tgz")) for i in range(5)),
                  status_extra={"artifactRepositoryRef": {"default": True}})
    assert len(locate(wf)) == 5
    assert len([c for c in cluster.calls if c.resource == "configmaps"]) == 1


@pytest.mark.parametrize(("ref", "configmaps", "message"), [
    ({"configMap": "missing", "key": "v1"}, {}, "ConfigMap ml/missing does not exist"),
    ({"configMap": "repos", "key": "v9"}, {"repos": {"v1": "s3: {}"}}, "has no key 'v9'"),
    ({"configMap": "repos"}, {"repos": {"v1": "s3: {}"}}, "names no default artifact repository"),
    ({"configMap": "repos", "key": "v1"}, {"repos": {"v1": "s3: [unclosed"}}, r"is not valid YAML \(line 1"),
    ({"default": True}, {}, "no artifact repository is configured"),
])
def test_unresolvable_repositories_are_refused_with_what_is_wrong(cluster: Emulator, ref: dict, configmaps: dict,
                                                                  message: str) -> None:
    for name, data in configmaps.items():
        seed_configmap(cluster, "ml", name, data)
    wf = workflow("wf", "ml", pod("a", "train", key_only("k.tgz")), status_extra={"artifactRepositoryRef": ref})
    with pytest.raises(Unprocessable, match=message):
        locate(wf)


def test_a_key_only_artifact_of_another_kind_than_the_repository_is_refused(cluster: Emulator) -> None:
    wf = seed(cluster, workflow("wf", "ml", pod("a", "train", {"name": "tensorboard", "gcs": {"key": "k.tgz"}}),
                                repository=MINIO_REPOSITORY))
    with pytest.raises(Unprocessable, match=r"key-only gcs artifact, but its artifact repository .* is s3"):
        locate(wf)


def test_a_configmap_the_api_cannot_read_is_an_upstream_failure(cluster: Emulator) -> None:
    cluster.fail(503, resource="configmaps")
    wf = workflow("wf", "ml", pod("a", "train", key_only("k.tgz")),
                  status_extra={"artifactRepositoryRef": {"default": True}})
    with pytest.raises(UpstreamError, match="reading configmaps argo/workflow-controller-configmap"):
        locate(wf)


def test_a_configmap_that_is_not_yaml_is_reported_without_its_content(cluster: Emulator) -> None:
    # Regression (issue 11): the YAML parser's message quoted the ConfigMap's lines into the 422.
    seed_configmap(cluster, "ml", "repos", {"sso": "clientSecret: hunter2-SEEKRIT\n  bad: [indent"})
    ref = {"configMap": "repos", "key": "sso"}
    wf = workflow("wf", "ml", pod("a", "train", key_only("k.tgz")), status_extra={"artifactRepositoryRef": ref})
    with pytest.raises(Unprocessable) as refused:
        locate(wf)
    assert "is not valid YAML (line 2" in refused.value.message
    assert "SEEKRIT" not in refused.value.message and "clientSecret" not in refused.value.message


@pytest.mark.parametrize("status", [
    {"nodes": {"a": {"outputs": True}}},
    {"nodes": {"a": {"outputs": {"artifacts": "tensorboard"}}}},
    {"nodes": {"a": {"outputs": {"artifacts": [None, 7, {"name": "tensorboard", "s3": "k.tgz"}]}}}},
    {"nodes": {"a": "a string"}},
    {"nodes": ["a", "list"]},
    {"nodes": {"a": {"type": "Retry", "children": "b", "displayName": 5}}},
])
def test_malformed_node_shapes_are_skipped_with_a_reason(status: dict) -> None:
    # Regression (issue 11): `nodes.a.outputs: true` made the listing of a whole namespace answer 500.
    wf = {"metadata": {"name": "wf", "namespace": "ml"}, "status": status}
    scan = artifacts.scan(wf, "tensorboard")
    assert scan.found == []
    assert artifacts.artifact_names(wf) == [] or artifacts.artifact_names(wf) == ["tensorboard"]
    if status != {"nodes": {"a": {"type": "Retry", "children": "b", "displayName": 5}}}:
        assert scan.skipped, status


def test_well_formed_nodes_beside_malformed_ones_are_still_found() -> None:
    wf = workflow("wf", "ml", pod("a", "train", key_only("k.tgz")))
    wf["status"]["nodes"]["broken"] = {"outputs": True}
    scan = artifacts.scan(wf, "tensorboard")
    assert [a.run for a in scan.found] == ["train"]
    assert scan.skipped == ["node 'broken': outputs is not an object"]
