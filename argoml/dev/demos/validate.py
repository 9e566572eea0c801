"""Demo step: the admission webhook denies an invalid HyperparamWorkflow with every problem
(search space and Argo's rules), allows the example sweep, denies a sweep to a user who may not
create Workflows, checks a Workflow's templateRef in the cluster with the user's rights, and fills
a HyperparamWorkflow's defaults."""

from __future__ import annotations

import base64
import copy
import json
import urllib.request
import uuid
from typing import TYPE_CHECKING, Any

from argoml import manifests
from argoml.dev.runner import ROOT

if TYPE_CHECKING:
    from argoml.dev.demo import Demo

LIBRARY = {"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
           "metadata": {"name": "training-library", "namespace": "demo"},
           "spec": {"templates": [{"name": "fit", "inputs": {"parameters": [{"name": "lr"}]},
                                   "container": {"image": "ghcr.io/argoml/trainer:1",
                                                 "args": ["--lr={{inputs.parameters.lr}}"]}}]}}


def workflow(step: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "train", "namespace": "demo"},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", "steps": [[step]]}], **extra}}


def post(url: str, obj: dict[str, Any], user: str = "alice") -> dict[str, Any]:
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
              "request": {"uid": str(uuid.uuid4()), "operation": "CREATE", "namespace": "demo",
                          "userInfo": {"username": user, "groups": ["system:authenticated"]},
                          "name": obj["metadata"]["name"], "object": obj,
                          "kind": {"group": obj["apiVersion"].split("/")[0], "version": "v1alpha1",
                                   "kind": obj["kind"]}}}
    request = urllib.request.Request(url, data=json.dumps(review).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        response: dict[str, Any] = json.loads(answer.read())["response"]
        return response


def run(demo: Demo) -> None:
    url = demo.stack.url("validate")
    grants = demo.emulator.access.grants
    grants |= {("alice", "create", "argoproj.io", "workflows", "demo"),
               ("alice", "get", "argoproj.io", "workflowtemplates", "demo")}
    sweep_example = manifests.load_all((ROOT / "examples" / "hparam.yaml").read_text())[0]
    sweep_example["metadata"]["namespace"] = "demo"
    broken_sweep = copy.deepcopy(sweep_example)
    broken_sweep["spec"]["hyperparams"]["learning-rate"] = {"range": {"min": 0.5, "max": 0.1, "step": 0.1}}
    broken_sweep["spec"]["algorithm"] = "bayesian"
    broken_sweep["spec"]["templates"][1]["container"].pop("image")
    denied = post(url + "/validate", broken_sweep)
    demo.say(f"POST /validate: a HyperparamWorkflow with a bad range, an unknown algorithm and a container "
             f"without an image -> allowed={denied['allowed']}")
    demo.show(f"status {denied.get('status', {}).get('code')}, message", denied.get("status", {}).get("message", ""))
    if denied["allowed"]:
        raise AssertionError("the invalid HyperparamWorkflow was allowed")
    allowed = post(url + "/validate", sweep_example)
    demo.say(f"POST /validate: examples/hparam.yaml -> allowed={allowed['allowed']}, "
             f"warnings={allowed.get('warnings', [])}")
    if not allowed["allowed"]:
        raise AssertionError(f"the example sweep was denied: {allowed.get('status')}")
    deputy = post(url + "/validate", sweep_example, user="mallory")
    demo.say(f"POST /validate: the same sweep from mallory, who may not create Workflows in demo -> "
             f"allowed={deputy['allowed']}")
    demo.show("message", deputy.get("status", {}).get("message", ""))
    if deputy["allowed"]:
        raise AssertionError("a sweep from a user who may not create Workflows was allowed")
    demo.emulator.store.create(demo.emulator.store.type_of("argoproj.io", "v1alpha1", "workflowtemplates"),
                               "demo", LIBRARY)
    fit = {"name": "fit", "templateRef": {"name": "training-library", "template": "fit"},
           "arguments": {"parameters": [{"name": "lr", "value": "0.1"}]}}
    broken = workflow(dict(fit, templateRef={"name": "training-library", "template": "fti"}), entrypiont="main")
    denied = post(url + "/validate", broken)
    demo.say(f"POST /validate: a Workflow with a typo and a wrong templateRef -> allowed={denied['allowed']}")
    demo.show(f"status {denied.get('status', {}).get('code')}, message", denied.get("status", {}).get("message", ""))
    if denied["allowed"]:
        raise AssertionError("the invalid Workflow was allowed")
    allowed = post(url + "/validate", workflow(fit))
    demo.say(f"POST /validate: the fixed Workflow (templateRef resolved in the cluster) -> "
             f"allowed={allowed['allowed']}")
    if not allowed["allowed"]:
        raise AssertionError(f"the valid Workflow was denied: {allowed.get('status')}")
    sweep = {"apiVersion": "argoml.io/v1alpha1", "kind": "HyperparamWorkflow",
             "metadata": {"name": "sweep", "namespace": "demo"},
             "spec": {"hyperparams": {"lr": {"values": [0.1, 0.2]}}, "entrypoint": "main",
                      "templates": [{"name": "main", "container": {"image": "ghcr.io/argoml/trainer:1"}}]}}
    mutated = post(url + "/mutate", sweep)
    demo.say("POST /mutate: a HyperparamWorkflow without algorithm or parameterName gets the defaults")
    demo.show("JSONPatch", json.loads(base64.b64decode(mutated["patch"])))
