"""Least privilege, proven: the API requests the functions made in this test run vs their RBAC.

Every request to the emulated cluster is recorded with the function that made it (its
client's User-Agent, ``argoml-<function>``, equals its ServiceAccount's name) and the
TensorBoard mode the test ran in. After all other tests have run, each recorded request
must be granted, in the namespace it was made in, by the rules bound to that account in
the manifests of its mode (``knative/`` for Knative mode, the
``tensorboard-deployment`` overlay for Deployment mode); and, when the whole suite ran,
each rule of each mode must have been used by some request in a mode that has it, so no
role grants what no code does. The ``namespaced`` overlay must grant each request made in
a namespace when that namespace is one of its list, and none when it is not.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from argoml.dev.emulator import Call
from tests.conftest import ROOT
from tests.test_manifests import Obj, of_kind, one, render

MODES = {"knative": "knative", "deployment": "knative/overlays/tensorboard-deployment"}
NAMESPACED = "knative/overlays/namespaced"
FUNCTIONS = ("argoml-hyperparam", "argoml-validate", "argoml-tensorboard", "argoml-gc")
ACCOUNTS = (*FUNCTIONS, "argoml-hyperparamworkflow-source", "argoml-workflow-source")
CLUSTER_SCOPED = {("authentication.k8s.io", "tokenreviews"), ("authorization.k8s.io", "subjectaccessreviews"),
                  ("argoproj.io", "clusterworkflowtemplates"), ("apiextensions.k8s.io", "customresourcedefinitions")}

# Grants no request exercises, because the API server itself checks them.
NOT_REQUESTS = {
    # OwnerReferencesPermissionEnforcement: setting blockOwnerDeletion on the generated
    # Workflow's ownerReference needs update on the owner's finalizers.
    ("argoml-hyperparam", "argoml.io", "hyperparamworkflows/finalizers", "update"),
    # The ApiServerSource adapter reads single objects when it re-lists after a watch error.
    ("argoml-hyperparamworkflow-source", "argoml.io", "hyperparamworkflows", "get"),
    ("argoml-workflow-source", "argoproj.io", "workflows", "get"),
}


@dataclass(frozen=True)
class Grant:
    """One verb on one resource (optionally only some names), in one namespace or (None) in all."""

    verb: str
    group: str
    resource: str
    names: frozenset[str]
    namespace: str | None

    def allows(self, call: Call) -> bool:
        return ((self.verb, self.group, self.resource) == (call.verb, call.group, call.resource)
                and (not self.names or call.name in self.names)
                and (self.namespace is None or (self.namespace == call.namespace
                                                and (call.group, call.resource) not in CLUSTER_SCOPED)))


def grants_of(objects: list[Obj], account: str) -> set[Grant]:
    """What the bindings in ``objects`` give ``account`` (a ServiceAccount in the argoml namespace)."""
    granted = set()
    for binding in of_kind(objects, "ClusterRoleBinding") + of_kind(objects, "RoleBinding"):
        if not any(s["kind"] == "ServiceAccount" and s["name"] == account and s.get("namespace") == "argoml"
                   for s in binding["subjects"]):
            continue
        role = one(objects, binding["roleRef"]["kind"], binding["roleRef"]["name"])
        namespace = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
        for rule in role["rules"]:
            granted |= {Grant(verb, group, resource, frozenset(rule.get("resourceNames", ())), namespace)
                        for group in rule["apiGroups"] for resource in rule["resources"] for verb in rule["verbs"]}
    return granted


def grants_by_mode() -> dict[str, dict[str, set[Grant]]]:
    return {mode: {account: grants_of(render(path), account) for account in ACCOUNTS}
            for mode, path in MODES.items()}


def calls_by_mode(recorded_calls: list[tuple[str, Call]]) -> dict[str, dict[str, set[Call]]]:
    by_mode: dict[str, dict[str, set[Call]]] = defaultdict(lambda: defaultdict(set))
    for mode, call in recorded_calls:
        if call.agent in ACCOUNTS:
            by_mode[mode][call.agent].add(call)
    return by_mode


@pytest.mark.after_all
def test_every_request_a_function_made_is_granted_to_its_service_account_in_its_mode(
        recorded_calls: list[tuple[str, Call]], request: pytest.FixtureRequest) -> None:
    granted, made = grants_by_mode(), calls_by_mode(recorded_calls)
    if _whole_suite_ran(request.session):
        assert set(FUNCTIONS) <= set(made["knative"]), "the run recorded no requests of some functions"
        assert {"argoml-tensorboard", "argoml-gc"} <= set(made["deployment"]), "no Deployment-mode requests"
    denied = sorted(f"{mode}: {c.agent}: {c.verb} {c.group or 'core'}/{c.resource} {c.namespace or ''}/{c.name or ''}"
                    for mode, calls in made.items() for account, found in calls.items() for c in found
                    if not any(g.allows(c) for g in granted[mode][account]))
    assert not denied, "requested but not granted:\n" + "\n".join(denied)


def _whole_suite_ran(session: pytest.Session) -> bool:
    options = session.config.option
    ran = {Path(str(item.path)).name for item in session.items}
    every = {path.name for path in (ROOT / "tests").glob("test_*.py")}
    return not options.keyword and not options.markexpr and ran >= every


@pytest.mark.after_all
def test_no_rule_of_either_mode_grants_what_no_request_used(recorded_calls: list[tuple[str, Call]],
                                                            request: pytest.FixtureRequest) -> None:
    if not _whole_suite_ran(request.session):
        pytest.skip("only meaningful after the whole suite: unused grants are judged against every request")
    granted, made = grants_by_mode(), calls_by_mode(recorded_calls)
    unused = set()
    for mode, accounts in granted.items():
        for account, grants in accounts.items():
            for grant in grants:
                modes = [m for m in MODES if grant in granted[m][account]]  # a rule both modes share: either
                used = any(grant.allows(c) for m in modes for c in made[m][account])
                if not used and (account, grant.group, grant.resource, grant.verb) not in NOT_REQUESTS:
                    unused.add(f"{mode}: {account}: {grant.verb} {grant.group or 'core'}/{grant.resource}"
                               f" {sorted(grant.names) or ''} in {grant.namespace or 'all namespaces'}")
    assert not unused, "granted but never requested:\n" + "\n".join(sorted(unused))


@pytest.mark.after_all
def test_the_namespaced_overlay_grants_in_its_namespaces_what_the_base_grants_and_nothing_elsewhere(
        recorded_calls: list[tuple[str, Call]]) -> None:
    objects = render(NAMESPACED)
    bound = {b["metadata"]["namespace"] for b in of_kind(objects, "RoleBinding")}
    listed, special = "ml-team", {"argo"}  # Argo's namespace has its own Role (rbac/argo-config.yaml)
    everywhere = {"argoml-validate"}  # reads templates wherever a reviewed object names one (docs/deploy.md)
    assert listed in bound
    denied: list[str] = []
    leaked: list[str] = []
    for account, calls in calls_by_mode(recorded_calls)["knative"].items():
        grants = grants_of(objects, account)
        for call in calls:
            if (call.group, call.resource) in CLUSTER_SCOPED:
                probes = [(call, True)]
            elif call.namespace is None:
                continue  # a cluster-wide list: the overlay's policies and selectors name its namespaces instead
            elif call.namespace in special:
                probes = [(call, True)]
            else:
                probes = [(replace(call, namespace=listed), True),
                          (replace(call, namespace="not-listed"), account in everywhere)]
            for probe, expected in probes:
                if any(g.allows(probe) for g in grants) != expected:
                    (denied if expected else leaked).append(
                        f"{account}: {probe.verb} {probe.group or 'core'}/{probe.resource} in {probe.namespace}")
    assert not denied, "requested but not granted in a listed namespace:\n" + "\n".join(sorted(set(denied)))
    assert not leaked, "granted outside the listed namespaces:\n" + "\n".join(sorted(set(leaked)))
