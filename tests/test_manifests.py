"""knative/ renders with kustomize, every object is valid, and the wiring holds together.

The kustomizations are rendered with ``kubectl kustomize`` (kustomize v5 inside kubectl);
each object is validated offline (tests/schemas.py): built-in kinds against Kubernetes'
own schemas, Knative, Argo and cert-manager kinds against their CRDs in shared/crds, and
HyperparamWorkflows against our own CRD, with unknown fields being errors. The rest pins
down what a cluster would only reveal at run time: names that must agree across objects
(service accounts, the webhook's domain, certificate and CA injection), selectors that
must exclude system namespaces, and the promises of the deploy guide (scale to zero,
/healthz probes, non-root, least-privilege roles).
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from urllib.parse import urlsplit

import pytest
import yaml
from croniter import croniter

from argoml.hyperparam import search
from argoml.hyperparam.workflow import generate
from argoml.kube import Obj
from argoml.selectors import Requirement
from tests.conftest import ROOT, SHARED
from tests.schemas import SchemaRegistry, cel, load_documents, structural_problems

KNATIVE = ROOT / "knative"
KUSTOMIZATIONS = ["knative", "knative/overlays/dev", "knative/overlays/tensorboard-deployment",
                  "knative/overlays/namespaced", "knative/overlays/validation-warn",
                  "knative/overlays/validation-off"]
FUNCTIONS = ("hyperparam", "validate", "tensorboard", "gc")


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    return SchemaRegistry.from_paths(SHARED / "crds", KNATIVE / "crd")


_rendered: dict[str, list[Obj]] = {}


def render(kustomization: str) -> list[Obj]:
    """``kubectl kustomize <dir>``, parsed; skips the test when kubectl is not installed."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: the manifests need `kubectl kustomize` (kustomize v5) to render "
                    "(apt-get install -y kubectl)")
    if kustomization not in _rendered:
        result = subprocess.run(["kubectl", "kustomize", str(ROOT / kustomization)],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"kubectl kustomize {kustomization} failed:\n{result.stderr}"
        _rendered[kustomization] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return copy.deepcopy(_rendered[kustomization])


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objects if obj["kind"] == kind]


def one(objects: list[Obj], kind: str, name: str | None = None) -> Obj:
    found = [obj for obj in of_kind(objects, kind) if name is None or obj["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def ksvc(objects: list[Obj], function: str) -> Obj:
    return one([o for o in objects if o["apiVersion"].startswith("serving.knative.dev/")], "Service",
               f"argoml-{function}")


def container(service: Obj) -> Obj:
    [only] = service["spec"]["template"]["spec"]["containers"]
    return only


def selector_matches(selector: Obj, labels: dict[str, str]) -> bool:
    operators = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    requirements = [Requirement(key, "=", (value,)) for key, value in selector.get("matchLabels", {}).items()]
    requirements += [Requirement(e["key"], operators[e["operator"]], tuple(e.get("values", ())))
                     for e in selector.get("matchExpressions", [])]
    return all(r.matches(labels) for r in requirements)


def namespace_labels(namespace: Obj) -> dict[str, str]:
    """A namespace's labels as the API server has them (it adds kubernetes.io/metadata.name)."""
    name = namespace["metadata"]["name"]
    return {**namespace["metadata"].get("labels", {}), "kubernetes.io/metadata.name": name}


def rules_for(objects: list[Obj], service_account: str) -> list[Obj]:
    """Every RBAC rule bound to ``service_account`` (in the argoml namespace) by any binding."""
    rules = []
    for binding in of_kind(objects, "ClusterRoleBinding") + of_kind(objects, "RoleBinding"):
        if any(s["kind"] == "ServiceAccount" and s["name"] == service_account for s in binding["subjects"]):
            role = one(objects, binding["roleRef"]["kind"], binding["roleRef"]["name"])
            rules += role["rules"]
    return rules


# --- every object is valid -------------------------------------------------------------


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_rendered_object_is_valid_against_its_schema(kustomization: str, registry: SchemaRegistry) -> None:
    objects = render(kustomization)
    assert objects
    problems = {f"{o['kind']} {o['metadata']['name']}": registry.problems(o) for o in objects}
    assert {name: found for name, found in problems.items() if found} == {}


def test_base_is_labelled_part_of_argo_ml_and_namespaced_in_argoml() -> None:
    objects = render("knative")
    assert all(o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argo-ml" for o in objects)
    cluster_scoped = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
                      "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
                      "ValidatingAdmissionPolicyBinding"}
    in_argo = {(o["kind"], o["metadata"]["name"]) for o in objects if o["metadata"].get("namespace") == "argo"}
    assert in_argo == {("Role", "argoml-tensorboard-argo-config"), ("RoleBinding", "argoml-tensorboard-argo-config")}
    assert {o["metadata"].get("namespace") for o in objects
            if o["kind"] not in cluster_scoped and (o["kind"], o["metadata"]["name"]) not in in_argo} == {"argoml"}


def test_the_schema_helper_rejects_unknown_fields_in_every_kind_of_object(registry: SchemaRegistry) -> None:
    objects = render("knative")
    service = ksvc(objects, "gc")
    container(service)["imagePullPolicyy"] = "Always"
    source = one(objects, "PingSource", "argoml-gc-adhoc")
    source["spec"]["scheduel"] = "* * * * *"
    certificate = one(objects, "Certificate", "argoml-ca")
    certificate["spec"]["issuer"] = {"name": "x"}
    binding = one(objects, "ClusterRoleBinding", "argoml-gc")
    binding["subject"] = []
    webhooks = one(objects, "ValidatingWebhookConfiguration")
    webhooks["webhooks"][0]["failPolicy"] = "Fail"
    sweep = one(list(load_documents([ROOT / "examples" / "hparam-random.yaml"])), "HyperparamWorkflow")
    sweep["metadata"]["lables"] = {}
    sweep["spec"]["hyperparams"]["optimizer"]["choices"] = ["x"]

    assert "spec.template.spec.containers.0" in registry.problems(service)[0]
    assert "imagePullPolicyy" in registry.problems(service)[0]
    assert "scheduel" in registry.problems(source)[0]
    assert "issuer" in registry.problems(certificate)[0]
    assert registry.problems(binding) == ["<root>: Additional properties are not allowed ('subject' was unexpected)"]
    assert "'failPolicy' was unexpected" in registry.problems(webhooks)[0]
    problems = "\n".join(registry.problems(sweep))
    assert "metadata: Additional properties are not allowed ('lables'" in problems
    assert "spec.hyperparams.optimizer: Additional properties are not allowed ('choices'" in problems


def test_the_schema_helper_knows_no_kind_it_has_no_schema_for(registry: SchemaRegistry) -> None:
    problems = registry.problems({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert problems == ["example.com/v1 Widget: no schema (neither a built-in kind nor a known CRD)"]


def test_the_schema_helper_knows_knative_argo_and_cert_manager_kinds(registry: SchemaRegistry) -> None:
    kinds = registry.kinds()
    for kind in [("serving.knative.dev/v1", "Service"), ("serving.knative.dev/v1beta1", "DomainMapping"),
                 ("sources.knative.dev/v1", "ApiServerSource"), ("sources.knative.dev/v1", "PingSource"),
                 ("argoproj.io/v1alpha1", "Workflow"), ("cert-manager.io/v1", "Certificate"),
                 ("argoml.io/v1alpha1", "HyperparamWorkflow")]:
        assert kind in kinds


def test_argo_examples_are_valid_workflows_for_the_helper(registry: SchemaRegistry) -> None:
    """The helper's closed objects must not reject valid Argo specs (shared/argo-examples are all valid)."""
    workflows = [doc for doc in load_documents([SHARED / "argo-examples"]) if doc.get("kind") == "Workflow"]
    assert len(workflows) > 50
    problems = {f"{i} {w['metadata']}": registry.problems(w) for i, w in enumerate(workflows)}
    assert {name: found for name, found in problems.items() if found} == {}


def test_the_schema_helper_evaluates_the_crds_cel_rules(registry: SchemaRegistry) -> None:
    workflow = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "two-kinds"},
                "spec": {"entrypoint": "main", "templates": [
                    {"name": "main", "container": {"image": "alpine"}, "script": {"image": "alpine", "source": "x"}}]}}
    assert registry.problems(workflow) == ["spec.templates: template must have at most one template type"]


# --- the HyperparamWorkflow CRD ---------------------------------------------------------


def crd() -> Obj:
    return one(list(load_documents([KNATIVE / "crd"])), "CustomResourceDefinition")


def test_hyperparamworkflow_crd_schema_is_structural() -> None:
    [version] = crd()["spec"]["versions"]
    assert structural_problems(version["schema"]["openAPIV3Schema"]) == []


def test_hyperparamworkflow_crd_has_status_printer_columns_and_short_names() -> None:
    spec = crd()["spec"]
    [version] = spec["versions"]
    assert (spec["group"], version["name"], version["subresources"]) == ("argoml.io", "v1alpha1", {"status": {}})
    assert {"hparam", "hpw"} <= set(spec["names"]["shortNames"])
    columns = [c["name"] for c in version["additionalPrinterColumns"] if c.get("priority", 0) == 0]
    assert columns == ["Algorithm", "Trials", "Workflow", "Phase", "Best", "Running", "Age"]


def example_sweeps() -> list[Obj]:
    return [doc for doc in load_documents(sorted((ROOT / "examples").glob("*.yaml")))
            if doc.get("kind") == "HyperparamWorkflow"]


def test_example_hyperparamworkflows_validate_against_the_crd(registry: SchemaRegistry) -> None:
    sweeps = example_sweeps()
    assert sweeps, "examples/*.yaml holds no HyperparamWorkflow"
    problems = {s["metadata"]["name"]: registry.problems(s) for s in sweeps}
    assert {name: found for name, found in problems.items() if found} == {}


def test_hyperparamworkflow_keeps_argo_fields_but_types_the_search_space(registry: SchemaRegistry) -> None:
    sweep = one(list(load_documents([ROOT / "examples" / "hparam-random.yaml"])), "HyperparamWorkflow")
    sweep["spec"]["podGC"] = {"strategy": "OnPodSuccess"}  # any Argo WorkflowSpec field is kept
    assert registry.problems(sweep) == []

    bad_algorithm = copy.deepcopy(sweep)
    bad_algorithm["spec"]["algorithm"] = "bayesian"
    assert any("'bayesian' is not one of ['grid', 'random', 'sobol', 'tpe', 'cmaes']" in p
               for p in registry.problems(bad_algorithm))
    both = copy.deepcopy(sweep)
    both["spec"]["hyperparams"]["optimizer"]["range"] = {"min": 0, "max": 1}
    assert registry.problems(both)
    neither = copy.deepcopy(sweep)
    neither["spec"]["hyperparams"]["optimizer"] = {}
    assert registry.problems(neither)
    unbounded = copy.deepcopy(sweep)
    del unbounded["spec"]["hyperparams"]["batch-size"]["range"]["max"]
    assert any("'max' is a required property" in p for p in registry.problems(unbounded))


def test_hyperparamworkflow_cel_rules_hold_without_the_webhook(registry: SchemaRegistry) -> None:
    sweep = one(list(load_documents([ROOT / "examples" / "hparam-random.yaml"])), "HyperparamWorkflow")
    del sweep["spec"]["maxTrials"]
    sweep["spec"]["hyperparams"]["batch size"] = sweep["spec"]["hyperparams"].pop("batch-size")
    assert registry.problems(sweep) == [
        "spec.maxTrials: maxTrials is required for the random, sobol, tpe and cmaes algorithms",
    ]
    sweep["spec"]["algorithm"] = "grid"  # a grid's size is known: maxTrials is only a cap there
    sweep["spec"]["hyperparams"]["batch_size"] = sweep["spec"]["hyperparams"].pop("batch size")
    assert registry.problems(sweep) == []


def test_the_crd_accepts_what_the_function_accepts_and_rejects_what_it_rejects(registry: SchemaRegistry) -> None:
    sweep = one(list(load_documents([ROOT / "examples" / "hparam-random.yaml"])), "HyperparamWorkflow")
    hyperparams = sweep["spec"]["hyperparams"]
    hyperparams["1st_layer"] = hyperparams.pop("optimizer")
    sweep["spec"]["maxTrials"] = search.MAX_TRIALS_LIMIT
    generate(sweep)  # the function's own rules accept it
    assert registry.problems(sweep) == []
    for name in ("layer.size", "-x", "x" * 64):  # names: the webhook and the function refuse them (no CEL)
        bad = copy.deepcopy(sweep)
        bad["spec"]["hyperparams"][name] = {"values": [1]}
        with pytest.raises(search.InvalidSpec):
            generate(bad)
    for field, value in (("maxTrials", search.MAX_TRIALS_LIMIT + 1), ("seed", -1)):
        bad = copy.deepcopy(sweep)
        bad["spec"][field] = value
        with pytest.raises(search.InvalidSpec):
            generate(bad)
        assert registry.problems(bad), field


# --- the functions as Knative Services --------------------------------------------------


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_scales_to_zero_but_validate_keeps_one_warm_and_each_is_probed_on_healthz(function: str) -> None:
    """The API server waits on validate for every Workflow written: a cold start there stalls the cluster."""
    service = ksvc(render("knative"), function)
    template = service["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/min-scale"] == ("1" if function == "validate" else "0")
    assert int(annotations["autoscaling.knative.dev/max-scale"]) >= 2
    probe = container(service)["readinessProbe"]
    assert probe["httpGet"]["path"] == "/healthz"
    # A period turns off the queue-proxy's 50 ms probing during a cold start (Knative's IsAggressive).
    assert probe.get("periodSeconds", 0) == 0
    assert 1 <= template["spec"]["containerConcurrency"] <= 50
    assert 0 < template["spec"]["timeoutSeconds"] <= 600
    env = {var["name"]: var.get("value") for var in container(service)["env"]}
    assert env["THREADS"] == str(template["spec"]["containerConcurrency"])  # gunicorn threads, one per request


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_runs_non_root_read_only_with_its_own_service_account(function: str) -> None:
    objects = render("knative")
    service = ksvc(objects, function)
    security = container(service)["securityContext"]
    assert security["runAsNonRoot"] is True and security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"] == {"drop": ["ALL"]}
    account = service["spec"]["template"]["spec"]["serviceAccountName"]
    assert account == f"argoml-{function}"
    one(objects, "ServiceAccount", account)
    assert rules_for(objects, account), f"{account} is bound to no role"
    dockerfile = (ROOT / "functions" / function / "Dockerfile").read_text()
    assert f"USER {security['runAsUser']}:{security['runAsGroup']}" in dockerfile.split("FROM ")[-1]


def test_every_function_is_cluster_local_and_reached_from_outside_only_over_tls() -> None:
    objects = render("knative")
    visibility = {f: ksvc(objects, f)["metadata"]["labels"].get("networking.knative.dev/visibility")
                  for f in FUNCTIONS}
    assert visibility == dict.fromkeys(FUNCTIONS, "cluster-local")
    mapped = {m["spec"]["ref"]["name"]: m for m in of_kind(objects, "DomainMapping")}
    assert set(mapped) == {"argoml-validate", "argoml-tensorboard"}  # every way in from outside
    assert all(m["spec"]["tls"]["secretName"] for m in mapped.values())


@pytest.mark.parametrize("kustomization", ["knative", "knative/overlays/dev"])
def test_the_tensorboard_api_is_served_over_tls_and_plain_http_is_redirected(kustomization: str) -> None:
    objects = render(kustomization)
    [mapping] = [m for m in of_kind(objects, "DomainMapping") if m["spec"]["ref"]["name"] == "argoml-tensorboard"]
    assert mapping["metadata"]["annotations"]["networking.knative.dev/http-option"] == "redirected"
    certificate = one(objects, "Certificate", "argoml-tensorboard-tls")
    assert certificate["spec"]["dnsNames"] == [mapping["metadata"]["name"]]
    assert certificate["spec"]["secretName"] == mapping["spec"]["tls"]["secretName"]
    assert certificate["spec"]["secretTemplate"]["labels"]["networking.internal.knative.dev/certificate-uid"]
    assert one(objects, "Issuer", certificate["spec"]["issuerRef"]["name"])["spec"]["ca"]
    env = {item["name"]: item for item in container(ksvc(objects, "tensorboard"))["env"]}
    assert "TENSORBOARD_HTTPS_REDIRECT" not in env  # the function's own redirect stays on (its default)


def test_the_session_keys_come_from_a_secret_the_function_starts_without() -> None:
    env = {item["name"]: item for item in container(ksvc(render("knative"), "tensorboard"))["env"]}
    ref = env["TENSORBOARD_SESSION_KEYS"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "argoml-tensorboard-session", "key": "keys", "optional": True}


def test_images_follow_make_images_naming_and_overlays_change_the_registry() -> None:
    base = {f: container(ksvc(render("knative"), f))["image"] for f in FUNCTIONS}
    dev = {f: container(ksvc(render("knative/overlays/dev"), f))["image"] for f in FUNCTIONS}
    assert base == {f: f"ghcr.io/argoml/argoml-{f}:dev" for f in FUNCTIONS}  # Makefile's REGISTRY and TAG
    assert dev == {f: f"kind.local/argoml-{f}:dev" for f in FUNCTIONS}


# Knative Serving's default config-deployment `registries-skipping-tag-resolving` (1.14).
KNATIVE_SKIPS_TAG_RESOLVING = {"kind.local", "ko.local", "dev.local"}


def test_dev_overlay_images_are_ones_knative_runs_without_resolving_their_tags() -> None:
    """Knative resolves tags to digests from its controller's pod: a registry on the host is unreachable there."""
    objects = render("knative/overlays/dev")
    for function in FUNCTIONS:
        service = ksvc(objects, function)
        image = container(service)["image"]
        assert image.split("/")[0] in KNATIVE_SKIPS_TAG_RESOLVING, image
        assert not image.endswith(":latest") and container(service).get("imagePullPolicy") in (None, "IfNotPresent")
    env = {v["name"]: v.get("value") for v in container(ksvc(objects, "tensorboard"))["env"]}
    assert env["TENSORBOARD_FETCH_IMAGE"].startswith("kind.local/")
    makefile = (ROOT / "Makefile").read_text()
    assert "kind load docker-image" in makefile and "kind-load:" in makefile


@pytest.mark.parametrize("kustomization", ["knative", "knative/overlays/dev"])
def test_tensorboard_instances_fetch_logs_with_the_functions_own_image(kustomization: str) -> None:
    service = ksvc(render(kustomization), "tensorboard")
    env = {item["name"]: item.get("value") for item in container(service)["env"]}
    assert env["TENSORBOARD_FETCH_IMAGE"] == container(service)["image"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_func_yaml_deploys_the_same_service_and_account(function: str) -> None:
    func = yaml.safe_load((ROOT / "functions" / function / "func.yaml").read_text())
    service = ksvc(render("knative"), function)
    assert func["name"] == service["metadata"]["name"]
    assert func["deploy"]["serviceAccountName"] == service["spec"]["template"]["spec"]["serviceAccountName"]
    assert func["deploy"]["namespace"] == service["metadata"]["namespace"]


# --- RBAC --------------------------------------------------------------------------------


def test_no_role_grants_wildcards_secrets_or_privilege_escalation() -> None:
    objects = render("knative")
    for role in of_kind(objects, "ClusterRole") + of_kind(objects, "Role"):
        for rule in role["rules"]:
            name = role["metadata"]["name"]
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], name
            assert "secrets" not in rule["resources"], name
            assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), name


def granted(objects: list[Obj], account: str) -> set[tuple[str, str, str]]:
    return {(g, r, v) for rule in rules_for(objects, account) for g in rule["apiGroups"] for r in rule["resources"]
            for v in rule["verbs"]}


@pytest.mark.parametrize(("kustomization", "mode", "theirs", "not_theirs"), [
    ("knative", "knative", {"serving.knative.dev"}, {"apps", ""}),
    ("knative/overlays/tensorboard-deployment", "deployment", {"apps", ""}, {"serving.knative.dev"}),
])
def test_tensorboard_and_gc_hold_only_the_grants_of_their_mode(kustomization: str, mode: str, theirs: set[str],
                                                               not_theirs: set[str]) -> None:
    objects = render(kustomization)
    for function in ("tensorboard", "gc"):
        env = {var["name"]: var.get("value") for var in container(ksvc(objects, function))["env"]}
        assert env["TENSORBOARD_MODE"] == mode, function
        instances = {(g, r) for g, r, _ in granted(objects, f"argoml-{function}")
                     if r in ("services", "deployments")}
        assert {g for g, _ in instances} == theirs, function
        assert not {g for g, _ in instances} & not_theirs, function
    assert ("apps", "deployments", "update") in granted(objects, "argoml-tensorboard") or mode == "knative"


def test_tensorboard_reads_only_the_configmaps_argos_artifact_lookup_names() -> None:
    objects = render("knative")
    reads = [(role, rule) for role in of_kind(objects, "ClusterRole") + of_kind(objects, "Role")
             for rule in role["rules"] if "configmaps" in rule["resources"]]
    named = {(role["kind"], role["metadata"].get("namespace"), tuple(rule["resourceNames"])) for role, rule in reads}
    assert named == {("ClusterRole", None, ("artifact-repositories",)),
                     ("Role", "argo", ("workflow-controller-configmap",))}
    env = {var["name"]: var.get("value") for var in container(ksvc(objects, "tensorboard"))["env"]}
    assert env["ARGO_NAMESPACE"] == "argo"
    binding = one(objects, "RoleBinding", "argoml-tensorboard-argo-config")
    assert binding["metadata"]["namespace"] == env["ARGO_NAMESPACE"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "argoml-tensorboard", "namespace": "argoml"}]


def test_users_get_hyperparamworkflows_through_kubernetes_aggregated_roles() -> None:
    objects = render("knative")
    aggregated: dict[str, set[str]] = {}
    for role in of_kind(objects, "ClusterRole"):
        for label, value in role["metadata"].get("labels", {}).items():
            if label.startswith("rbac.authorization.k8s.io/aggregate-to-") and value == "true":
                verbs = {v for rule in role["rules"] if rule["apiGroups"] == ["argoml.io"] for v in rule["verbs"]}
                aggregated.setdefault(label.rsplit("-", 1)[1], set()).update(verbs)
    assert aggregated["view"] == {"get", "list", "watch"}
    assert aggregated["edit"] == aggregated["admin"] == {"get", "list", "watch", "create", "update", "patch",
                                                         "delete", "deletecollection"}
    for name in ("argoml-hyperparamworkflows-view", "argoml-hyperparamworkflows-edit"):  # users only, by label
        assert not [b for b in of_kind(objects, "ClusterRoleBinding") + of_kind(objects, "RoleBinding")
                    if b["roleRef"]["name"] == name]
    assert all(set(r["resources"]) <= {"hyperparamworkflows", "hyperparamworkflows/status"}
               for role in of_kind(objects, "ClusterRole") if role["metadata"]["name"].startswith("argoml-hyperparamw")
               for r in role["rules"])


@pytest.mark.parametrize(("resource", "labels", "allowed"), [
    ({"group": "", "resource": "pods"}, {"workflows.argoproj.io/workflow": "train"}, True),
    ({"group": "", "resource": "pods"}, {"app": "postgres"}, False),
    ({"group": "", "resource": "pods"}, None, False),
    ({"group": "serving.knative.dev", "resource": "services"},
     {"app.kubernetes.io/managed-by": "argoml-tensorboard"}, True),
    ({"group": "serving.knative.dev", "resource": "services"}, {"app.kubernetes.io/managed-by": "helm"}, False),
    ({"group": "apps", "resource": "deployments"}, {}, False),
    ({"group": "", "resource": "services"}, None, False),
])
def test_the_api_server_refuses_gc_deletes_of_what_is_not_a_workflow_pod_or_an_instance(
        resource: Obj, labels: dict[str, str] | None, allowed: bool) -> None:
    """RBAC cannot condition a delete on labels; a ValidatingAdmissionPolicy on gc's own account does."""
    objects = render("knative")
    policy = one(objects, "ValidatingAdmissionPolicy", "argoml-gc-deletes")
    binding = one(objects, "ValidatingAdmissionPolicyBinding", "argoml-gc-deletes")
    assert binding["spec"] == {"policyName": "argoml-gc-deletes", "validationActions": ["Deny"]}
    assert policy["spec"]["failurePolicy"] == "Fail"
    [condition] = policy["spec"]["matchConditions"]
    request = {"userInfo": {"username": "system:serviceaccount:argoml:argoml-gc"}, "resource": resource,
               "operation": "DELETE"}
    assert cel(condition["expression"], request=request)
    assert not cel(condition["expression"], request={**request, "userInfo": {"username": "alice"}})
    old = {"metadata": {"name": "x", **({"labels": labels} if labels is not None else {})}}
    [validation] = policy["spec"]["validations"]
    assert bool(cel(validation["expression"], request=request, oldObject=old)) is allowed
    matched = {(g, r) for rule in policy["spec"]["matchConstraints"]["resourceRules"]
               for g in rule["apiGroups"] for r in rule["resources"]}
    assert {(g, r) for g, r, v in granted(render("knative/overlays/tensorboard-deployment"), "argoml-gc")
            | granted(objects, "argoml-gc") if v == "delete"} <= matched, "every delete gc may do is checked"


CLUSTER_SCOPED_RESOURCES = {"tokenreviews", "subjectaccessreviews", "clusterworkflowtemplates",
                            "customresourcedefinitions"}


def test_the_namespaced_overlay_binds_cluster_wide_only_what_is_in_no_namespace() -> None:
    objects = render("knative/overlays/namespaced")
    for binding in of_kind(objects, "ClusterRoleBinding"):
        role = one(objects, "ClusterRole", binding["roleRef"]["name"])
        resources = {r for rule in role["rules"] for r in rule["resources"]}
        if role["metadata"]["name"] == "argoml-validate":  # reads templates to check references (docs/deploy.md)
            assert {"workflowtemplates", "clusterworkflowtemplates"} <= resources
            continue
        assert resources <= CLUSTER_SCOPED_RESOURCES, role["metadata"]["name"]


def test_the_namespaced_overlay_names_the_same_namespaces_everywhere() -> None:
    objects = render("knative/overlays/namespaced")
    bound = {b["metadata"]["namespace"] for b in of_kind(objects, "RoleBinding")} - {"argo"}
    assert bound == {"ml-team", "ml-research"}
    for account in ("argoml-hyperparam", "argoml-tensorboard", "argoml-gc", "argoml-hyperparamworkflow-source",
                    "argoml-workflow-source"):
        for namespace in bound:
            assert [b for b in of_kind(objects, "RoleBinding") if b["metadata"]["namespace"] == namespace
                    and any(s["name"] == account for s in b["subjects"])], (account, namespace)
    for source in of_kind(objects, "ApiServerSource"):
        selector = source["spec"]["namespaceSelector"]
        assert {ns for ns in bound | {"other"} if selector_matches(selector, {"kubernetes.io/metadata.name": ns})} \
            == bound
    for name, policy in gc_policies(objects).items():
        assert set(policy["namespaces"]) == bound, name
    env = {var["name"]: var.get("value") for var in container(ksvc(objects, "tensorboard"))["env"]}
    assert set(env["TENSORBOARD_NAMESPACES"].split(",")) == bound
    base = gc_policies(render("knative"))
    assert {n: {k: v for k, v in p.items() if k != "namespaces"} for n, p in gc_policies(objects).items()} == \
        {n: {k: v for k, v in p.items() if k != "namespaces"} for n, p in base.items()}, "only the namespaces differ"


def test_validate_only_reads_templates_and_argos_cronworkflow_crd_and_asks_what_users_may_do() -> None:
    rules = rules_for(render("knative"), "argoml-validate")
    assert {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]} \
        == {("argoproj.io", r, "get") for r in ("workflowtemplates", "clusterworkflowtemplates")} \
        | {("apiextensions.k8s.io", "customresourcedefinitions", "get"),
           ("authorization.k8s.io", "subjectaccessreviews", "create")}
    [crd_rule] = [rule for rule in rules if rule["apiGroups"] == ["apiextensions.k8s.io"]]
    assert crd_rule["resourceNames"] == ["cronworkflows.argoproj.io"]


@pytest.mark.parametrize(("source", "group", "resource"), [
    ("argoml-hyperparamworkflows", "argoml.io", "hyperparamworkflows"),
    ("argoml-workflows", "argoproj.io", "workflows"),
])
def test_each_apiserversource_watches_with_an_account_that_can_only_watch_its_resource(
        source: str, group: str, resource: str) -> None:
    objects = render("knative")
    spec = one(objects, "ApiServerSource", source)["spec"]
    assert spec["mode"] == "Resource"
    assert spec["sink"]["ref"] == {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                                   "name": "argoml-hyperparam"}
    [watched] = spec["resources"]
    assert watched["apiVersion"].split("/")[0] == group
    rules = rules_for(objects, spec["serviceAccountName"])
    assert rules == [{"apiGroups": [group], "resources": [resource], "verbs": ["get", "list", "watch"]}]
    others = [s["spec"]["serviceAccountName"] for s in of_kind(objects, "ApiServerSource")
              if s["metadata"]["name"] != source]
    assert spec["serviceAccountName"] not in others


def test_workflow_source_sends_only_workflows_generated_from_a_hyperparamworkflow() -> None:
    [watched] = one(render("knative"), "ApiServerSource", "argoml-workflows")["spec"]["resources"]
    assert watched["kind"] == "Workflow"
    assert selector_matches(watched["selector"], {"argoml.io/hyperparamworkflow": "sweep"})
    assert not selector_matches(watched["selector"], {"workflows.argoproj.io/cron-workflow": "nightly"})


# --- GC schedules ------------------------------------------------------------------------


def gc_sources(objects: list[Obj]) -> list[Obj]:
    return [s for s in of_kind(objects, "PingSource") if s["spec"]["sink"]["ref"]["name"] == "argoml-gc"]


def gc_policies(objects: list[Obj]) -> dict[str, Obj]:
    return {s["metadata"]["name"]: json.loads(s["spec"]["data"]) for s in gc_sources(objects)}


def test_pingsources_carry_the_scheduled_and_ad_hoc_policies_hourly() -> None:
    objects = render("knative")
    policies = gc_policies(objects)
    assert policies["argoml-gc-scheduled"]["maxAgeHours"] == 240
    assert policies["argoml-gc-adhoc"]["maxAgeHours"] == 168
    assert policies["argoml-gc-adhoc"]["invert"] is True and not policies["argoml-gc-scheduled"].get("invert")
    assert policies["argoml-gc-adhoc"]["selector"] == policies["argoml-gc-scheduled"]["selector"]
    assert len(gc_sources(objects)) == 2
    for source in gc_sources(objects):
        assert source["spec"]["contentType"] == "application/json"
        runs = croniter(source["spec"]["schedule"], 0)
        assert runs.get_next(float) <= 3600 and runs.get_next(float) - runs.get_prev(float) <= 3600


def test_a_pingsource_resyncs_every_sweep_every_few_minutes() -> None:
    (resync,) = [s for s in of_kind(render("knative"), "PingSource")
                 if s["spec"]["sink"]["ref"]["name"] == "argoml-hyperparam"]
    runs = croniter(resync["spec"]["schedule"], 0)
    assert runs.get_next(float) - runs.get_prev(float) <= 300


def gc_environment(objects: list[Obj]) -> dict[str, str]:
    return {var["name"]: var["value"] for var in container(ksvc(objects, "gc"))["env"]}


def test_gc_accepts_policies_only_from_its_pingsources_by_default() -> None:
    """Any pod can reach a cluster-local Service (through the activator), so the sender is authenticated."""

    objects = render("knative")
    env = gc_environment(objects)
    audience, allowed = env["EVENT_AUDIENCE"], {s.strip() for s in env["EVENT_SENDERS"].split(",")}
    for source in gc_sources(objects):
        assert source["spec"]["sink"]["audience"] == audience
        namespace, name = source["metadata"]["namespace"], source["metadata"]["name"]
        # Knative's OIDC ServiceAccount for the source, in both of its naming schemes.
        assert f"system:serviceaccount:{namespace}:oidc-sources.knative.dev-pingsource-{name}" in allowed
        assert f"system:serviceaccount:{namespace}:{name}-oidc-sources.knative.dev-pingsource" in allowed
    assert len(allowed) == 2 * len(gc_sources(objects))


def test_the_pingsources_policies_hold_within_the_deployments_floor_and_ceilings() -> None:
    from argoml.gc import parse_policy

    objects = render("knative")
    env = gc_environment(objects)
    assert float(env["GC_LIMIT_RUN_SECONDS"]) < ksvc(objects, "gc")["spec"]["template"]["spec"]["timeoutSeconds"]
    for name, data in gc_policies(objects).items():
        policy = parse_policy(data, env)
        assert policy.max_run_seconds < 600 and policy.max_deletions <= int(env["GC_LIMIT_DELETIONS"]), name
    assert parse_policy({}, env).max_page_bytes == int(env["GC_MAX_PAGE_BYTES"])


def test_every_example_gc_policy_has_a_pingsource_with_the_same_data() -> None:
    examples = sorted((ROOT / "examples" / "gc-policies").glob("*.json"))
    assert [e.name for e in examples] == ["adhoc.json", "scheduled.json"]
    carried = list(gc_policies(render("knative")).values())
    for example in examples:
        assert json.loads(example.read_text()) in carried, f"{example.name} has no PingSource"


# --- admission webhooks and their TLS ---------------------------------------------------


def webhooks(objects: list[Obj]) -> list[Obj]:
    return [w for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
            for w in one(objects, kind)["webhooks"]]


@pytest.mark.parametrize("kustomization", ["knative", "knative/overlays/dev"])
def test_webhooks_call_the_domain_mapping_with_the_certificate_cert_manager_injects(kustomization: str) -> None:
    objects = render(kustomization)
    [mapping] = [m for m in of_kind(objects, "DomainMapping") if m["spec"]["ref"]["name"] == "argoml-validate"]
    domain = mapping["metadata"]["name"]
    certificate = one(objects, "Certificate", "argoml-validate-tls")
    assert certificate["spec"]["dnsNames"] == [domain]
    assert certificate["spec"]["secretName"] == mapping["spec"]["tls"]["secretName"]
    issuer = one(objects, "Issuer", certificate["spec"]["issuerRef"]["name"])
    ca = one(objects, "Certificate", issuer["spec"]["ca"]["secretName"])
    assert ca["spec"]["isCA"] is True
    assert "selfSigned" in one(objects, "Issuer", ca["spec"]["issuerRef"]["name"])["spec"]
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        annotation = one(objects, kind)["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
        assert annotation == f"{certificate['metadata']['namespace']}/{certificate['metadata']['name']}"
    paths = set()
    for webhook in webhooks(objects):
        url = urlsplit(webhook["clientConfig"]["url"])
        assert (url.scheme, url.hostname) == ("https", domain)
        paths.add(url.path)
    assert paths == {"/validate", "/validate/warn", "/mutate"}


def test_webhooks_are_scoped_side_effect_free_and_allow_a_cold_start() -> None:
    sent = set()
    for webhook in webhooks(render("knative")):
        assert webhook["sideEffects"] == "None" and webhook["admissionReviewVersions"] == ["v1"]
        assert 15 <= webhook["timeoutSeconds"] <= 30
        assert webhook["failurePolicy"] in ("Fail", "Ignore")
        for rule in webhook["rules"]:
            assert set(rule["operations"]) == {"CREATE", "UPDATE"}
            assert rule["apiGroups"] in (["argoml.io"], ["argoproj.io"])
            assert rule["scope"] == ("Cluster" if rule["resources"] == ["clusterworkflowtemplates"] else "Namespaced")
            sent |= set(rule["resources"])
    assert sent == {"hyperparamworkflows", "workflows", "workflowtemplates", "clusterworkflowtemplates",
                    "cronworkflows"}


def test_only_hyperparamworkflow_validation_fails_closed() -> None:
    policies = {w["name"]: w["failurePolicy"] for w in webhooks(render("knative"))}
    assert policies == {"hyperparamworkflows.validate.argoml.io": "Fail", "argo.validate.argoml.io": "Ignore",
                        "argo-warn.validate.argoml.io": "Ignore",
                        "clusterworkflowtemplates.validate.argoml.io": "Ignore",
                        "hyperparamworkflows.mutate.argoml.io": "Ignore"}


def test_only_kinds_that_mutate_changes_are_sent_to_it() -> None:
    """Each call is latency (after a lull, a cold start) on the request; /mutate patches HyperparamWorkflows only."""
    from argoml.validation import admission

    [mutating] = of_kind(render("knative"), "MutatingWebhookConfiguration")
    groups = {group for webhook in mutating["webhooks"] for rule in webhook["rules"] for group in rule["apiGroups"]}
    assert groups == {"argoml.io"}
    workflow = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "w"},
                "spec": {"entrypoint": "main", "templates": []}}
    request = admission.AdmissionRequest("admission.k8s.io/v1", "u", "CREATE", "Workflow", "ml", "w", workflow, None)
    assert admission.mutate(request).patch is None


def test_webhooks_skip_system_namespaces_and_argo_mls_own() -> None:
    objects = render("knative")
    own = namespace_labels(one(objects, "Namespace"))
    for webhook in webhooks(objects):
        selector = webhook["namespaceSelector"]
        team = {"kubernetes.io/metadata.name": "ml-team"}
        if webhook["name"].startswith("argo-warn."):
            team["argoml.io/validation"] = "warn"
        assert not selector_matches(selector, own)
        assert not selector_matches(selector, {"kubernetes.io/metadata.name": "kube-system"})
        assert selector_matches(selector, team)
        opted_out = {"kubernetes.io/metadata.name": "ml-team", "argoml.io/admission": "disabled"}
        assert not selector_matches(selector, opted_out)


def argo_route(objects: list[Obj], labels: dict[str, str], resource: str = "workflows") -> str | None:
    """The path the API server calls for an Argo ``resource`` in a namespace with ``labels`` (None: not sent)."""
    [validating] = of_kind(objects, "ValidatingWebhookConfiguration")
    cluster_scoped = resource == "clusterworkflowtemplates"
    matching = [w for w in validating["webhooks"]
                if any(resource in rule["resources"] for rule in w["rules"])
                and (cluster_scoped or selector_matches(w["namespaceSelector"], labels))]
    assert len(matching) <= 1, f"{resource} in {labels} would be sent to {[w['name'] for w in matching]}"
    return urlsplit(matching[0]["clientConfig"]["url"]).path if matching else None


TEAM = {"kubernetes.io/metadata.name": "ml-team"}


@pytest.mark.parametrize(("kustomization", "unlabelled", "cluster_templates"), [
    ("knative", "/validate", "/validate"),
    ("knative/overlays/validation-warn", "/validate/warn", "/validate/warn"),
    ("knative/overlays/validation-off", None, None),
])
def test_the_namespace_label_chooses_the_enforcement_mode(kustomization: str, unlabelled: str | None,
                                                         cluster_templates: str | None) -> None:
    objects = render(kustomization)
    modes = {mode: argo_route(objects, {**TEAM, "argoml.io/validation": mode}) for mode in ("enforce", "warn", "off")}
    assert modes == {"enforce": "/validate", "warn": "/validate/warn", "off": None}
    for resource in ("workflows", "workflowtemplates", "cronworkflows"):
        assert argo_route(objects, TEAM, resource) == unlabelled
    assert argo_route(objects, TEAM, "clusterworkflowtemplates") == cluster_templates
    assert argo_route(objects, {**TEAM, "argoml.io/validation": "warn", "argoml.io/admission": "disabled"}) is None


@pytest.mark.parametrize("kustomization", ["knative", "knative/overlays/validation-warn",
                                           "knative/overlays/validation-off"])
def test_hyperparamworkflows_are_enforced_whatever_the_mode(kustomization: str) -> None:
    objects = render(kustomization)
    for mode in ("enforce", "warn", "off", None):
        labels = TEAM if mode is None else {**TEAM, "argoml.io/validation": mode}
        assert argo_route(objects, labels, "hyperparamworkflows") == "/validate"


def test_the_mode_overlays_change_nothing_but_the_validating_webhooks() -> None:
    base = [o for o in render("knative") if o["kind"] != "ValidatingWebhookConfiguration"]
    for overlay in ("knative/overlays/validation-warn", "knative/overlays/validation-off"):
        assert [o for o in render(overlay) if o["kind"] != "ValidatingWebhookConfiguration"] == base


def test_dev_overlay_reaches_only_namespaces_that_opt_in() -> None:
    objects = render("knative/overlays/dev")
    for webhook in webhooks(objects):
        team = {"kubernetes.io/metadata.name": "ml-team"}
        if webhook["name"].startswith("argo-warn."):
            team["argoml.io/validation"] = "warn"
        assert not selector_matches(webhook["namespaceSelector"], team)
        assert selector_matches(webhook["namespaceSelector"], {**team, "argoml.io/dev": "enabled"})
    for source in of_kind(objects, "ApiServerSource"):
        assert not selector_matches(source["spec"]["namespaceSelector"], team)
        assert selector_matches(source["spec"]["namespaceSelector"], {**team, "argoml.io/dev": "enabled"})


def test_webhook_updates_that_leave_spec_alone_are_not_sent() -> None:
    """Argo's controller writes Workflow status into the object itself, many times a run."""
    spec = {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "alpine"}}]}
    running = {"spec": spec, "status": {"phase": "Running"}}
    for webhook in webhooks(render("knative")):
        [condition] = webhook["matchConditions"]
        sent = {
            "create": cel(condition["expression"], request={"operation": "CREATE"}, object=running, oldObject=None),
            "status update": cel(condition["expression"], request={"operation": "UPDATE"},
                                 object={**running, "status": {"phase": "Succeeded"}}, oldObject=running),
            "spec update": cel(condition["expression"], request={"operation": "UPDATE"},
                               object={**running, "spec": {**spec, "shutdown": "Stop"}}, oldObject=running),
        }
        assert {case: bool(value) for case, value in sent.items()} == {
            "create": True, "status update": False, "spec update": True}, webhook["name"]


# --- Knative's own configuration (hack/knative-features.sh patches it; tests/test_install.py) --------


def test_base_does_not_include_knatives_own_configuration() -> None:
    assert not [o for o in render("knative") if o["metadata"].get("namespace", "").startswith("knative-")]
