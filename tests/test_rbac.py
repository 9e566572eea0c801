"""Least privilege, proven: the API requests the functions made in this test run vs their RBAC.

Every request to the emulated cluster is recorded with the function that made it (its
client's User-Agent, ``argoml-<function>``, equals its ServiceAccount's name). After all
other tests have run, each recorded request must be granted by the rules bound to that
account in the rendered ``knative/`` manifests; and, when the whole suite ran, each rule
must have been used by some request, so no role grants what no code does.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from argoml.dev.emulator import Call
from tests.conftest import ROOT
from tests.test_manifests import Obj, of_kind, render, rules_for

# Grants no request exercises, because the API server itself checks them.
NOT_REQUESTS = {
    # OwnerReferencesPermissionEnforcement: setting blockOwnerDeletion on the generated
    # Workflow's ownerReference needs update on the owner's finalizers.
    ("argoml-hyperparam", "argoml.io", "hyperparamworkflows/finalizers", "update"),
    # The ApiServerSource adapter reads single objects when it re-lists after a watch error.
    ("argoml-hyperparamworkflow-source", "argoml.io", "hyperparamworkflows", "get"),
    ("argoml-workflow-source", "argoproj.io", "workflows", "get"),
}


def grants(rules: list[Obj], call: Call) -> bool:
    return any((call.group in rule.get("apiGroups", []) or "*" in rule.get("apiGroups", []))
               and (call.resource in rule.get("resources", []) or "*" in rule.get("resources", []))
               and (call.verb in rule.get("verbs", []) or "*" in rule.get("verbs", []))
               and (not rule.get("resourceNames") or call.name in rule["resourceNames"])
               for rule in rules)


def accounts() -> dict[str, list[Obj]]:
    objects = render("knative")
    return {sa["metadata"]["name"]: rules_for(objects, sa["metadata"]["name"])
            for sa in of_kind(objects, "ServiceAccount")}


def calls_by_account(recorded_calls: list[Call], known: set[str]) -> dict[str, set[Call]]:
    by_account: dict[str, set[Call]] = defaultdict(set)
    for call in recorded_calls:
        if call.agent in known:
            by_account[call.agent].add(Call(call.agent, call.verb, call.group, call.resource, None, call.name))
    return by_account


@pytest.mark.after_all
def test_every_request_a_function_made_is_granted_to_its_service_account(
        recorded_calls: list[Call], request: pytest.FixtureRequest) -> None:
    rules = accounts()
    by_account = calls_by_account(recorded_calls, set(rules))
    if _whole_suite_ran(request.session):
        assert {"argoml-hyperparam", "argoml-validate", "argoml-tensorboard", "argoml-gc"} <= set(by_account), (
            "the run recorded no requests of some functions: is the User-Agent set?")
    denied = sorted(f"{c.agent}: {c.verb} {c.group or 'core'}/{c.resource}"
                    for account, calls in by_account.items() for c in calls if not grants(rules[account], c))
    assert not denied, "requested but not granted:\n" + "\n".join(denied)


def _whole_suite_ran(session: pytest.Session) -> bool:
    options = session.config.option
    ran = {Path(str(item.path)).name for item in session.items}
    every = {path.name for path in (ROOT / "tests").glob("test_*.py")}
    return not options.keyword and not options.markexpr and ran >= every


@pytest.mark.after_all
def test_no_rule_grants_what_no_request_used(recorded_calls: list[Call], request: pytest.FixtureRequest) -> None:
    if not _whole_suite_ran(request.session):
        pytest.skip("only meaningful after the whole suite: unused grants are judged against every request")
    rules = accounts()
    by_account = calls_by_account(recorded_calls, set(rules))
    unused = []
    for account in ("argoml-hyperparam", "argoml-validate", "argoml-tensorboard", "argoml-gc",
                    "argoml-hyperparamworkflow-source", "argoml-workflow-source"):
        for rule in rules[account]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        used = any((c.verb, c.group, c.resource) == (verb, group, resource)
                                   for c in by_account[account])
                        if not used and (account, group, resource, verb) not in NOT_REQUESTS:
                            unused.append(f"{account}: {verb} {group or 'core'}/{resource}")
    assert not unused, "granted but never requested:\n" + "\n".join(unused)
