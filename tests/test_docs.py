"""What the guides show works as shown: the deploy guide's overlay, its permissions table.

Docs that drift from the manifests mislead the people who follow them to the letter; these
tests render or read the manifests and hold the docs' claims against them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from argoml.kube import Obj
from tests.test_manifests import FUNCTIONS, container, ksvc, of_kind, render

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = (ROOT / "docs" / "deploy.md").read_text()


def _overlay_example() -> str:
    marker = DEPLOY.index("<!-- overlay-example")
    block = re.search(r"```yaml\n(.*?)```", DEPLOY[marker:], re.S)
    assert block is not None, "the overlay example's yaml block follows its marker"
    return block.group(1)


def test_the_deploy_guides_overlay_sets_every_image_and_the_fetch_image(tmp_path: Path) -> None:
    overlay = tmp_path / "overlays" / "mine"
    overlay.mkdir(parents=True)
    (tmp_path / "base").symlink_to(ROOT / "knative" / "base", target_is_directory=True)
    for shared in ("crd", "rbac", "services", "sources", "webhook", "components"):
        (tmp_path / shared).symlink_to(ROOT / "knative" / shared, target_is_directory=True)
    (overlay / "kustomization.yaml").write_text(_overlay_example())
    objects = render(str(overlay))
    images = {f: container(ksvc(objects, f))["image"] for f in FUNCTIONS}
    assert images == {f: f"registry.example.com/ml/argoml-{f}:0.1.0" for f in FUNCTIONS}
    env = {e["name"]: e.get("value") for e in container(ksvc(objects, "tensorboard"))["env"]}
    assert env["TENSORBOARD_FETCH_IMAGE"] == "registry.example.com/ml/argoml-tensorboard:0.1.0"


def _table_rows() -> dict[str, str]:
    section = DEPLOY[DEPLOY.index("## Permissions"):]
    return {match[1]: match[2] for match in re.finditer(r"^\| `(argoml-[a-z-]+)` \| (.*) \|$", section, re.M)}


def _rules(objects: list[Obj], account: str) -> list[Obj]:
    """Every rule granted to ServiceAccount ``account``, through any (Cluster)RoleBinding."""
    roles = {(role["kind"], role["metadata"]["name"]): role.get("rules") or []
             for role in of_kind(objects, "ClusterRole") + of_kind(objects, "Role")}
    rules: list[Obj] = []
    for binding in of_kind(objects, "ClusterRoleBinding") + of_kind(objects, "RoleBinding"):
        if any(subject.get("kind") == "ServiceAccount" and subject.get("name") == account
               for subject in binding.get("subjects") or []):
            rules += roles.get((binding["roleRef"]["kind"], binding["roleRef"]["name"]), [])
    return rules


@pytest.mark.parametrize("account", ["argoml-hyperparam", "argoml-validate", "argoml-tensorboard", "argoml-gc",
                                     "argoml-hyperparamworkflow-source", "argoml-workflow-source"])
def test_the_deploy_guides_permissions_table_names_what_each_role_grants(account: str) -> None:
    row = _table_rows()[account]
    words = set(re.findall(r"[a-z]+(?:/[a-z]+)?", row.lower()))
    rules = _rules(render("knative"), account)
    assert rules, account
    for rule in rules:
        for resource in rule["resources"]:
            plural = resource.split("/")[0]
            assert resource in words or plural in words or plural.removesuffix("s") in words, (account, resource)
        for verb in rule["verbs"]:
            assert verb in words, (account, verb, rule["resources"])


def test_the_overlay_example_is_yaml_kustomize_reads() -> None:
    example = yaml.safe_load(_overlay_example())
    assert example["resources"] == ["../../base"] and len(example["images"]) == len(FUNCTIONS)
