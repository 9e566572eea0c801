"""Installing and upgrading: the scripts and make targets a cluster admin runs, against a fake kubectl.

There is no cluster here, so ``kubectl`` is a stand-in on ``PATH`` that keeps Knative's
ConfigMaps in a JSON file, records every command, and hands ``kubectl kustomize`` to the
real one. What is pinned: the feature flags are patched key by key (never applied as a
ConfigMap that would fight Knative's own install), the check names each flag that is
off, the Operator is left in charge of its own resources, ``make deploy`` refuses a
placeholder webhook address, and every hack/ script passes ``bash -n`` and shellcheck.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.test_manifests import container, ksvc, render

FEATURES = ROOT / "hack" / "knative-features.sh"
SCRIPTS = sorted((ROOT / "hack").glob("*.sh"))

FAKE_KUBECTL = r'''
import json, os, re, subprocess, sys

state_path = os.environ["FAKE_KUBE_STATE"]
state = json.load(open(state_path))
args = sys.argv[1:]
state["commands"].append(args)
namespace = args[args.index("-n") + 1] if "-n" in args else None
rest = [a for i, a in enumerate(args) if a != "-n" and (i == 0 or args[i - 1] != "-n")]

def save():
    json.dump(state, open(state_path, "w"))

if rest[:1] == ["kustomize"]:
    save()
    sys.exit(subprocess.run([os.environ["REAL_KUBECTL"], *rest]).returncode)
if rest[:1] == ["get"] and rest[1].endswith(".operator.knative.dev"):
    save()
    print("\n".join(state["operator"].get(rest[1], [])))
    sys.exit(0)
if rest[:3] == ["get", "configmap", "config-features"]:
    save()
    data = state["configmaps"].get(namespace)
    if data is None:
        print(f'Error from server (NotFound): configmaps "config-features" not found', file=sys.stderr)
        sys.exit(1)
    key = re.fullmatch(r"jsonpath=\{\.data\.(.*)\}", rest[rest.index("-o") + 1]).group(1).replace("\\.", ".")
    print(data.get(key, ""), end="")
    sys.exit(0)
if rest[:3] == ["patch", "configmap", "config-features"]:
    assert rest[rest.index("--type") + 1] == "merge"
    patch = json.loads(rest[rest.index("-p") + 1])
    state["configmaps"].setdefault(namespace, {}).update(patch["data"])
    save()
    print(f"configmap/config-features patched")
    sys.exit(0)
if rest[:1] == ["apply"]:
    save()
    print("applied")
    sys.exit(0)
save()
print(f"fake kubectl: unexpected {args}", file=sys.stderr)
sys.exit(3)
'''


@pytest.fixture
def kube(tmp_path: Path) -> dict[str, Any]:
    """A fake kubectl first on PATH; returns the environment to run scripts with and the state file."""
    real = shutil.which("kubectl")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "kubectl"
    fake.write_text(f"#!{sys.executable}\n{FAKE_KUBECTL}")
    fake.chmod(0o755)
    state = tmp_path / "state.json"
    knatives_own = {"_example": "# Knative's own documentation of the flags", "multi-container": "enabled"}
    state.write_text(json.dumps({"commands": [], "operator": {},
                                 "configmaps": {"knative-serving": dict(knatives_own),
                                                "knative-eventing": {"_example": "..."}}}))
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_KUBE_STATE": str(state),
           "REAL_KUBECTL": real or "kubectl"}
    return {"env": env, "state": state}


def run(kube: dict[str, Any], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, env=kube["env"], cwd=ROOT, check=False)


def state(kube: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(kube["state"].read_text())
    return loaded


def set_flags(kube: dict[str, Any], namespace: str, flags: dict[str, str]) -> None:
    current = state(kube)
    current["configmaps"][namespace].update(flags)
    kube["state"].write_text(json.dumps(current))


def test_the_check_names_each_needed_flag_that_is_off_and_fails(kube: dict[str, Any]) -> None:
    set_flags(kube, "knative-serving", {"kubernetes.podspec-init-containers": "enabled",
                                        "kubernetes.podspec-volumes-emptydir": "disabled"})
    result = run(kube, "bash", str(FEATURES), "check")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "ok   knative-serving kubernetes.podspec-init-containers: enabled" in lines
    assert any(line.startswith("OFF  knative-serving kubernetes.podspec-volumes-emptydir: disabled") for line in lines)
    assert any(line.startswith("OFF  knative-eventing authentication-oidc: unset") and "gc" in line for line in lines)
    assert "hack/knative-features.sh apply" in result.stderr or "apply" in result.stderr


def test_apply_patches_only_the_needed_keys_and_leaves_knatives_own(kube: dict[str, Any]) -> None:
    result = run(kube, "bash", str(FEATURES), "apply")
    assert result.returncode == 0, result.stderr
    after = state(kube)
    assert after["configmaps"]["knative-serving"] == {
        "_example": "# Knative's own documentation of the flags", "multi-container": "enabled",
        "kubernetes.podspec-init-containers": "enabled", "kubernetes.podspec-volumes-emptydir": "enabled"}
    assert after["configmaps"]["knative-eventing"] == {"_example": "...", "authentication-oidc": "enabled"}
    verbs = [command[2] for command in after["commands"] if command[:1] == ["-n"]]
    assert "apply" not in verbs and verbs.count("patch") == 2, "a merge patch per ConfigMap, never an apply"
    assert result.stdout.count("ok   ") == 3
    assert run(kube, "bash", str(FEATURES), "check").returncode == 0


def test_apply_leaves_an_operator_installed_knative_to_the_operator(kube: dict[str, Any]) -> None:
    current = state(kube)
    current["operator"] = {
        "knativeservings.operator.knative.dev": ["knativeserving.operator.knative.dev/knative-serving"]}
    kube["state"].write_text(json.dumps(current))
    result = run(kube, "bash", str(FEATURES), "apply")
    assert result.returncode == 1 and "spec.config.features" in result.stderr
    assert not [c for c in state(kube)["commands"] if "patch" in c]


def test_the_flags_are_the_ones_the_manifests_need() -> None:
    listed = subprocess.run(["bash", str(FEATURES), "list"], capture_output=True, text=True, check=True).stdout
    flags = {tuple(line.split()) for line in listed.splitlines()}
    objects = render("knative")
    gc_env = {var["name"]: var.get("value") for var in container(ksvc(objects, "gc"))["env"]}
    assert ("knative-eventing", "authentication-oidc") in flags and gc_env.get("EVENT_AUDIENCE")
    assert {flag for namespace, flag in flags if namespace == "knative-serving"} == {
        "kubernetes.podspec-init-containers", "kubernetes.podspec-volumes-emptydir"}  # tests/test_tensorboard.py


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="make deploy renders with kubectl kustomize")
def test_make_deploy_refuses_while_the_webhook_address_is_a_placeholder(kube: dict[str, Any]) -> None:
    for overlay in ("knative", "knative/overlays/dev"):
        result = run(kube, "make", "--no-print-directory", "deploy", f"OVERLAY={overlay}")
        assert result.returncode != 0 and "a placeholder" in result.stdout, (overlay, result.stdout, result.stderr)
    assert not [c for c in state(kube)["commands"] if c[:1] == ["apply"]]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="make deploy renders with kubectl kustomize")
def test_make_deploy_applies_an_overlay_that_names_a_real_address(kube: dict[str, Any], tmp_path: Path) -> None:
    overlay = tmp_path / "mine"
    (overlay / "domain").mkdir(parents=True)
    rename = "".join(f"  - target: {{kind: DomainMapping, name: argoml-{f}.example.com}}\n    patch: |-\n"
                     f"      - {{op: replace, path: /metadata/name, value: argoml-{f}.ml.corp.internal}}\n"
                     for f in ("validate", "tensorboard"))
    (overlay / "domain" / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n" + rename)
    knative = os.path.relpath(ROOT / "knative", overlay)  # kustomize wants relative paths
    (overlay / "kustomization.yaml").write_text(
        f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {knative}/base\n"
        f"components:\n  - domain\n  - {knative}/components/webhook-domain\n"
        f"  - {knative}/components/tensorboard-domain\n")
    result = run(kube, "make", "--no-print-directory", "deploy", f"OVERLAY={overlay}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ["apply", "-k", str(overlay)] in state(kube)["commands"]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_hack_scripts_parse_and_pass_shellcheck(script: Path) -> None:
    assert os.access(script, os.X_OK), f"{script.name} is not executable"
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n", str(script)], check=True)
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install -y shellcheck; .ci/run does)")
    result = subprocess.run(["shellcheck", "--severity=style", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
