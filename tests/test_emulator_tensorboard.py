"""The emulator extension the tensorboard tests need: SubjectAccessReviews that honour groups, recorded."""

from __future__ import annotations

from argoml import kube
from argoml.dev.emulator import Emulator


def review(user: str, groups: list[str], namespace: str) -> bool:
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
        "user": user, "groups": groups,
        "resourceAttributes": {"namespace": namespace, "verb": "get", "group": "argoproj.io", "resource": "workflows"}}}
    return bool(kube.create(kube.SUBJECT_ACCESS_REVIEWS, None, body)["status"].get("allowed"))


def test_a_grant_to_a_group_allows_its_members_only(cluster: Emulator) -> None:
    cluster.access.grants.add(("group:vision", "get", "argoproj.io", "workflows", "ml"))
    assert review("carol", ["vision"], "ml")
    assert not review("carol", ["nlp"], "ml")
    assert not review("vision", [], "ml")  # a user named like the group is not in it
    assert not review("carol", ["vision"], "prod")
    assert [r["user"] for r in cluster.access.reviews] == ["carol", "carol", "vision", "carol"]
