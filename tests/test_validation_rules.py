"""Each validation rule, as a pair: a resource that breaks it (and the exact problem reported,
path and message) and a close variant that keeps it (and is accepted)."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
import yaml

from argoml.validation import DocumentResolver, Report, validate_object, validate_workflow_spec
from tests.argo_manifests import errors, validate, workflow

LEAF = "- name: leaf\n  container: {image: alpine}\n"


# (rule, invalid resource, the problem it must produce, a valid variant)
CASES: list[tuple[str, str, tuple[str, str], str]] = [
    (
        "unknown field",
        workflow("entrypiont: main\nentrypoint: main\ntemplates:\n- {name: main, container: {image: a}}"),
        ("spec.entrypiont", 'unknown field "entrypiont"'),
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}}"),
    ),
    (
        "unknown field deep inside a template",
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a, comand: [x]}}"),
        ("spec.templates[0].container.comand", 'unknown field "comand"'),
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a, command: [x]}}"),
    ),
    (
        "unknown metadata field",
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}}").replace("{name: wf}",
                                                                                               "{nmae: wf}"),
        ("metadata.nmae", 'unknown field "nmae"'),
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}}").replace(
            "{name: wf}", "{generateName: wf-, labels: {a: b}}"),
    ),
    (
        "field of the wrong type",
        workflow("entrypoint: main\nparallelism: lots\ntemplates:\n- {name: main, container: {image: a}}"),
        ("spec.parallelism", "must be of type integer, got string"),
        workflow("entrypoint: main\nparallelism: 3\ntemplates:\n- {name: main, container: {image: a, resources: "
                 "{requests: {cpu: 0.5, memory: 1Gi}}}}"),
    ),
    (
        "entrypoint required",
        workflow("templates:\n- {name: main, container: {image: a}}"),
        ("spec.entrypoint", "spec.entrypoint is required"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}}"),
    ),
    (
        "entrypoint exists",
        workflow("entrypoint: mian\ntemplates:\n- {name: main, container: {image: a}}"),
        ("spec.entrypoint", "template name 'mian' undefined"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}}"),
    ),
    (
        "onExit exists",
        workflow("entrypoint: main\nonExit: cleanup\ntemplates:\n- {name: main, container: {image: a}}"),
        ("spec.onExit", "template name 'cleanup' undefined"),
        workflow("entrypoint: main\nonExit: main\ntemplates:\n- {name: main, container: {image: a}}"),
    ),
    (
        "template names unique",
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}}\n"
                 "- {name: main, container: {image: b}}"),
        ("spec.templates[1].name", "spec.templates[1].name 'main' is not unique"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}}\n"
                 "- {name: other, container: {image: b}}"),
    ),
    (
        "template names valid",
        workflow("entrypoint: my_main\ntemplates:\n- {name: my_main, container: {image: a}}"),
        ("spec.templates[0].name", "spec.templates[0].name: 'my_main' is invalid: name must consist of "
                                   "alpha-numeric characters or '-', and must start with an alpha-numeric character "
                                   "(e.g. My-name1-2, 123-NAME)"),
        workflow("entrypoint: my-main\ntemplates:\n- {name: my-main, container: {image: a}}"),
    ),
    (
        "exactly one template type",
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}, script: {image: a, "
                 "source: x}}"),
        ("spec.templates[0].script", "templates.main multiple template types specified. choose one of: container, "
                                     "containerSet, steps, script, resource, dag, suspend, template, template ref"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, script: {image: a, source: x}}"),
    ),
    (
        "a template type is given",
        workflow("entrypoint: main\ntemplates:\n- {name: main}"),
        ("spec.templates[0]", "templates.main template type unspecified. choose one of: container, containerSet, "
                              "steps, script, resource, dag, suspend, template, template ref"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, suspend: {}}"),
    ),
    (
        "container image",
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {command: [x]}}"),
        ("spec.templates[0].container.image", "templates.main.container.image may not be empty"),
        workflow("entrypoint: main\ntemplateDefaults: {container: {image: a}}\ntemplates:\n"
                 "- {name: main, container: {command: [x]}}"),
    ),
    (
        "script image",
        workflow("entrypoint: main\ntemplates:\n- {name: main, script: {source: x}}"),
        ("spec.templates[0].script.image", "templates.main.script.image may not be empty"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, script: {image: python, source: x}}"),
    ),
    (
        "parameter names",
        workflow("entrypoint: main\ntemplates:\n- {name: main, inputs: {parameters: [{name: a b, value: x}]}, "
                 "container: {image: a}}"),
        ("spec.templates[0].inputs.parameters[0].name",
         "templates.main.inputs.parameters[0].name: 'a b' is invalid: Parameter/Artifact name must consist of "
         "alpha-numeric characters, '_' or '-' e.g. my_param_1, MY-PARAM-1"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, inputs: {parameters: [{name: a_b, value: x}]}, "
                 "container: {image: a}}"),
    ),
    (
        "artifact names unique",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  outputs: {artifacts: [{name: o, path: /a}, "
                 "{name: o, path: /b}]}\n  container: {image: a}"),
        ("spec.templates[0].outputs.artifacts[1].name", "templates.main.outputs.artifacts [1].name 'o' is not unique"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  outputs: {artifacts: [{name: o, path: /a}, "
                 "{name: p, path: /b}]}\n  container: {image: a}"),
    ),
    (
        "input artifact path only in leaf templates",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  inputs: {artifacts: [{name: a, path: /a, "
                 "raw: {data: x}}]}\n  steps: [[{name: s, template: leaf}]]\n" + LEAF),
        ("spec.templates[0].inputs.artifacts[0].path",
         "templates.main.inputs.artifacts.a.path only valid in container/script templates"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  inputs: {artifacts: [{name: a, raw: {data: x}}]}\n"
                 "  steps: [[{name: s, template: leaf}]]\n" + LEAF),
    ),
    (
        "workflow arguments have values",
        workflow("entrypoint: main\narguments: {parameters: [{name: p}]}\ntemplates:\n"
                 "- {name: main, container: {image: a}}"),
        ("spec.arguments.parameters[0]", "spec.arguments.p.value or spec.arguments.p.valueFrom is required"),
        workflow("entrypoint: main\narguments: {parameters: [{name: p, value: x}]}\ntemplates:\n"
                 "- {name: main, container: {image: a}}"),
    ),
    (
        "argument value in its enum",
        workflow("entrypoint: main\narguments: {parameters: [{name: p, value: c, enum: [a, b]}]}\ntemplates:\n"
                 "- {name: main, container: {image: a}}"),
        ("spec.arguments.parameters[0].value", "spec.arguments.p.value should be present in spec.arguments.p.enum "
                                               "list"),
        workflow("entrypoint: main\narguments: {parameters: [{name: p, value: b, enum: [a, b]}]}\ntemplates:\n"
                 "- {name: main, container: {image: a}}"),
    ),
    (
        "workflow arguments supply the entrypoint's inputs",
        workflow("entrypoint: main\ntemplates:\n- {name: main, inputs: {parameters: [{name: msg}]}, "
                 "container: {image: a}}"),
        ("spec.entrypoint", "templates.main inputs.parameters.msg was not supplied"),
        workflow("entrypoint: main\narguments: {parameters: [{name: msg, value: hi}]}\ntemplates:\n"
                 "- {name: main, inputs: {parameters: [{name: msg}]}, container: {image: a}}"),
    ),
    (
        "step arguments supply the template's inputs",
        workflow("entrypoint: main\ntemplates:\n- {name: main, steps: [[{name: s, template: say}]]}\n"
                 "- {name: say, inputs: {parameters: [{name: msg}]}, container: {image: a}}"),
        ("spec.templates[0].steps[0][0]",
         "templates.main.steps[0].s templates.say inputs.parameters.msg was not supplied"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, steps: [[{name: s, template: say}]]}\n"
                 "- {name: say, inputs: {parameters: [{name: msg, default: hi}]}, container: {image: a}}"),
    ),
    (
        "step names unique",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf}, "
                 "{name: s, template: leaf}]]\n" + LEAF),
        ("spec.templates[0].steps[0][1].name", "templates.main.steps[0].name 's' is not unique"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf}, "
                 "{name: t, template: leaf}]]\n" + LEAF),
    ),
    (
        "step names present",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{template: leaf}]]\n" + LEAF),
        ("spec.templates[0].steps[0][0].name", "templates.main.steps[0].name is required"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf}]]\n" + LEAF),
    ),
    (
        "steps call existing templates",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: lef}]]\n" + LEAF),
        ("spec.templates[0].steps[0][0].template", "templates.main.steps[0].s template name 'lef' undefined"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf}]]\n" + LEAF),
    ),
    (
        "steps name what they run",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s}]]"),
        ("spec.templates[0].steps[0][0]", "templates.main.steps[0].s failed to get a template"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, inline: {container: {image: a}}}]]"),
    ),
    (
        "step outputs referenced only after the step",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps:\n"
                 "  - [{name: a, template: echo, arguments: {parameters: [{name: m, value: '{{steps.b.outputs.result}}'"
                 "}]}}]\n  - [{name: b, template: echo, arguments: {parameters: [{name: m, value: x}]}}]\n"
                 "- {name: echo, inputs: {parameters: [{name: m}]}, container: {image: a}}"),
        ("spec.templates[0].steps[0][0].arguments.parameters[0].value",
         "templates.main.steps failed to resolve {{steps.b.outputs.result}}"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps:\n"
                 "  - [{name: b, template: echo, arguments: {parameters: [{name: m, value: x}]}}]\n"
                 "  - [{name: a, template: echo, arguments: {parameters: [{name: m, value: '{{steps.b.outputs.result}}'"
                 "}]}}]\n- {name: echo, inputs: {parameters: [{name: m}]}, container: {image: a}}"),
    ),
    (
        "inputs referenced are declared",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  inputs: {parameters: [{name: m, value: x}]}\n"
                 "  container: {image: a, args: ['{{inputs.parameters.n}}']}"),
        ("spec.templates[0].container.args[0]", "templates.main: failed to resolve {{inputs.parameters.n}}"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  inputs: {parameters: [{name: m, value: x}]}\n"
                 "  container: {image: a, args: ['{{inputs.parameters.m}} {{pod.name}} {{workflow.name}}']}"),
    ),
    (
        "workflow parameters referenced are declared",
        workflow("entrypoint: main\narguments: {parameters: [{name: p, value: x}]}\ntemplates:\n"
                 "- {name: main, container: {image: a, args: ['{{workflow.parameters.q}}']}}"),
        ("spec.templates[0].container.args[0]", "templates.main: failed to resolve {{workflow.parameters.q}}"),
        workflow("entrypoint: main\narguments: {parameters: [{name: p, value: x}]}\ntemplates:\n"
                 "- {name: main, container: {image: a, args: ['{{workflow.parameters.p}}']}}"),
    ),
    (
        "expression tags are left to run time",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  container: {image: a, args: ['{{unclosed']}"),
        ("spec.templates[0].container.args[0]",
         'templates.main: Cannot find end tag="}}" in the template="{{unclosed" starting from "{{unclosed"'),
        workflow("entrypoint: main\ntemplates:\n- name: main\n"
                 "  container: {image: a, args: ['{{=sprig.upper(workflow.parameters.nothing)}}']}"),
    ),
    (
        "item only inside a loop",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: echo, arguments: "
                 "{parameters: [{name: m, value: '{{item}}'}]}}]]\n"
                 "- {name: echo, inputs: {parameters: [{name: m}]}, container: {image: a}}"),
        ("spec.templates[0].steps[0][0].arguments.parameters[0].value", "templates.main.steps failed to resolve "
                                                                         "{{item}}"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: echo, withItems: [1, 2],"
                 " arguments: {parameters: [{name: m, value: '{{item}}'}]}}]]\n"
                 "- {name: echo, inputs: {parameters: [{name: m}]}, container: {image: a}}"),
    ),
    (
        "item keys come from withItems maps",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: echo, withItems: "
                 "[{a: 1}], arguments: {parameters: [{name: m, value: '{{item.b}}'}]}}]]\n"
                 "- {name: echo, inputs: {parameters: [{name: m}]}, container: {image: a}}"),
        ("spec.templates[0].steps[0][0].arguments.parameters[0].value", "templates.main.steps failed to resolve "
                                                                         "{{item.b}}"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: echo, withParam: "
                 "'[{\"b\": 1}]', arguments: {parameters: [{name: m, value: '{{item.b}}'}]}}]]\n"
                 "- {name: echo, inputs: {parameters: [{name: m}]}, container: {image: a}}"),
    ),
    (
        "one loop per step",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf, withItems: [1], "
                 "withParam: '[1]'}]]\n" + LEAF),
        ("spec.templates[0].steps[0][0].withParam",
         "templates.main.steps[0].s only one of withItems, withParam, withSequence can be specified"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf, withParam: '[1]'}]]"
                 "\n" + LEAF),
    ),
    (
        "withSequence count or end",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf, withSequence: "
                 "{count: '3', end: '5'}}]]\n" + LEAF),
        ("spec.templates[0].steps[0][0].withSequence", "only one of count or end can be defined in withSequence"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf, withSequence: "
                 "{start: '1', end: '5'}}]]\n" + LEAF),
    ),
    (
        "DAG has tasks",
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: []}}"),
        ("spec.templates[0].dag.tasks", "templates.main must have at least one task"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf}]}}\n" + LEAF),
    ),
    (
        "DAG task names unique",
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf}, "
                 "{name: a, template: leaf}]}}\n" + LEAF),
        ("spec.templates[0].dag.tasks[1].name",
         "templates.main sorting failed: duplicated nodeName a (templates.main.tasks[1].name 'a' is not unique)"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf}, "
                 "{name: b, template: leaf}]}}\n" + LEAF),
    ),
    (
        "DAG dependencies defined",
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf, "
                 "dependencies: [ghost]}]}}\n" + LEAF),
        ("spec.templates[0].dag.tasks[0].dependencies",
         "templates.main sorting failed: invalid dependency ghost (templates.main.tasks.a dependency 'ghost' not "
         "defined)"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf}, "
                 "{name: b, template: leaf, dependencies: [a]}]}}\n" + LEAF),
    ),
    (
        "depends expression names defined tasks",
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf}, "
                 "{name: b, template: leaf, depends: 'a.Succeeded || c.Failed'}]}}\n" + LEAF),
        ("spec.templates[0].dag.tasks[1].depends",
         "templates.main sorting failed: invalid dependency c (templates.main.tasks.b dependency 'c' not defined)"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf}, "
                 "{name: b, template: leaf, depends: 'a.Succeeded || a.Failed'}]}}\n" + LEAF),
    ),
    (
        "depends results are known",
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf}, "
                 "{name: b, template: leaf, depends: a.Succeded}]}}\n" + LEAF),
        ("spec.templates[0].dag.tasks[1].depends", "templates.main.tasks.b task result 'Succeded' for task 'a' is "
                                                   "invalid"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf}, "
                 "{name: b, template: leaf, depends: a.Succeeded}]}}\n" + LEAF),
    ),
    (
        "items-based results need a loop",
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf}, "
                 "{name: b, template: leaf, depends: a.AnySucceeded}]}}\n" + LEAF),
        ("spec.templates[0].dag.tasks[1].depends", "templates.main.tasks.b dependency 'a' uses an items-based "
                                                   "condition such as .AnySucceeded or .AllFailed but does not "
                                                   "contain any items"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf, withItems: "
                 "[1, 2]}, {name: b, template: leaf, depends: a.AnySucceeded}]}}\n" + LEAF),
    ),
    (
        "no dependency cycles",
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf, depends: b}, "
                 "{name: b, template: leaf, depends: a}]}}\n" + LEAF),
        ("spec.templates[0].dag.tasks",
         "templates.main sorting failed: graph with cycle (templates.main.tasks dependency cycle detected: b->a->b)"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf}, "
                 "{name: b, template: leaf, depends: a}]}}\n" + LEAF),
    ),
    (
        "depends and dependencies not mixed",
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf}, "
                 "{name: b, template: leaf, depends: a}, {name: c, template: leaf, dependencies: [a]}]}}\n" + LEAF),
        ("spec.templates[0].dag.tasks[2].dependencies",
         "templates.main cannot use both 'depends' and 'dependencies' in the same DAG template"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf}, "
                 "{name: b, template: leaf, depends: a}, {name: c, template: leaf, depends: a}]}}\n" + LEAF),
    ),
    (
        "task outputs used need the task as a dependency",
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf}, "
                 "{name: b, template: echo, arguments: {parameters: [{name: m, value: '{{tasks.a.outputs.result}}'}]}}"
                 "]}}\n- {name: echo, inputs: {parameters: [{name: m}]}, container: {image: a}}\n" + LEAF),
        ("spec.templates[0].dag.tasks[1].arguments.parameters[0].value",
         "templates.main.tasks.b missing dependency 'a' for parameter 'm'"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {tasks: [{name: a, template: leaf}, "
                 "{name: b, template: echo, depends: a, arguments: {parameters: [{name: m, value: "
                 "'{{tasks.a.outputs.result}}'}]}}]}}\n"
                 "- {name: echo, inputs: {parameters: [{name: m}]}, container: {image: a}}\n" + LEAF),
    ),
    (
        "DAG target defined",
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {target: z, tasks: [{name: a, template: leaf}]}}\n"
                 + LEAF),
        ("spec.templates[0].dag.target", "templates.main.targets: target 'z' is not defined"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, dag: {target: a, tasks: [{name: a, template: leaf}]}}\n"
                 + LEAF),
    ),
    (
        "retry policy",
        workflow("entrypoint: main\ntemplates:\n- {name: main, retryStrategy: {retryPolicy: Sometimes}, "
                 "container: {image: a}}"),
        ("spec.templates[0].retryStrategy.retryPolicy", "Sometimes is not a valid RetryPolicy"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, retryStrategy: {retryPolicy: OnError, limit: 3}, "
                 "container: {image: a, args: ['{{retries}}']}}"),
    ),
    (
        "timeout is a duration",
        workflow("entrypoint: main\ntemplates:\n- {name: main, timeout: '30', container: {image: a}}"),
        ("spec.templates[0].timeout", "main has invalid duration format in timeout"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, timeout: 30s, container: {image: a}}"),
    ),
    (
        "timeout only on leaf templates",
        workflow("entrypoint: main\ntemplates:\n- {name: main, timeout: 30s, steps: [[{name: s, template: leaf}]]}\n"
                 + LEAF),
        ("spec.templates[0].timeout", "Steps template doesn't support timeout field"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, steps: [[{name: s, template: leaf}]]}\n" + LEAF),
    ),
    (
        "parallelism only on steps and dag",
        workflow("entrypoint: main\ntemplates:\n- {name: main, parallelism: 2, container: {image: a}}"),
        ("spec.templates[0].parallelism", "templates.main.parallelism is only valid for steps and dag templates"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, parallelism: 2, steps: [[{name: s, template: leaf}]]}\n"
                 + LEAF),
    ),
    (
        "activeDeadlineSeconds only on leaf templates",
        workflow("entrypoint: main\ntemplates:\n- {name: main, activeDeadlineSeconds: 10, "
                 "steps: [[{name: s, template: leaf}]]}\n" + LEAF),
        ("spec.templates[0].activeDeadlineSeconds", "templates.main.activeDeadlineSeconds is only valid for leaf "
                                                    "templates"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, activeDeadlineSeconds: '{{workflow.parameters.t}}', "
                 "container: {image: a}}\narguments: {parameters: [{name: t, value: '10'}]}"),
    ),
    (
        "resource action",
        workflow("entrypoint: main\ntemplates:\n- {name: main, resource: {action: remove, manifest: 'a: b'}}"),
        ("spec.templates[0].resource.action", "templates.main.resource.action must be one of: get, create, apply, "
                                              "delete, replace, patch"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, resource: {action: apply, manifest: 'a: b'}}"),
    ),
    (
        "resource manifest given",
        workflow("entrypoint: main\ntemplates:\n- {name: main, resource: {action: create}}"),
        ("spec.templates[0].resource", "either templates.main.resource.manifest or templates.main.resource."
                                       "manifestFrom must be specified"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, resource: {action: delete, flags: [pod, x]}}"),
    ),
    (
        "resource manifest is YAML",
        workflow("entrypoint: main\ntemplates:\n- {name: main, resource: {action: create, manifest: 'a: [b'}}"),
        ("spec.templates[0].resource.manifest", "templates.main.resource.manifest must be a valid yaml"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, resource: {action: create, manifest: "
                 "'replicas: {{workflow.name}}'}}"),
    ),
    (
        "containerSet has main for outputs",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  outputs: {parameters: [{name: o, valueFrom: "
                 "{path: /o}}]}\n  containerSet: {containers: [{name: a, image: x}]}"),
        ("spec.templates[0].containerSet.containers",
         'templates.main.containerSet.containers must have a container named "main" for input or output'),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  outputs: {parameters: [{name: o, valueFrom: "
                 "{path: /o}}]}\n  containerSet: {containers: [{name: main, image: x}]}"),
    ),
    (
        "containerSet container names unique",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  containerSet: {containers: [{name: a, image: x}, "
                 "{name: a, image: y}]}"),
        ("spec.templates[0].containerSet.containers[1].name",
         "templates.main.containerSet.containers[1].name 'a' is not unique"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  containerSet: {containers: [{name: a, image: x}, "
                 "{name: b, image: y, dependencies: [a]}]}"),
    ),
    (
        "containerSet dependencies defined",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  containerSet: {containers: [{name: a, image: x, "
                 "dependencies: [c]}]}"),
        ("spec.templates[0].containerSet.containers[0].dependencies",
         "templates.main.containerSet.containers.a dependency 'c' not defined"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  containerSet: {containers: [{name: a, image: x}]}"),
    ),
    (
        "output parameter has a source",
        workflow("entrypoint: main\ntemplates:\n- {name: main, outputs: {parameters: [{name: o}]}, container: "
                 "{image: a}}"),
        ("spec.templates[0].outputs.parameters[0]", "templates.main.outputs.parameters.o does not have valueFrom or "
                                                    "value specified"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, outputs: {parameters: [{name: o, valueFrom: "
                 "{path: /tmp/o}}]}, container: {image: a}}"),
    ),
    (
        "output parameter of a container comes from a path",
        workflow("entrypoint: main\ntemplates:\n- {name: main, outputs: {parameters: [{name: o, valueFrom: "
                 "{jsonPath: '{.a}'}}]}, container: {image: a}}"),
        ("spec.templates[0].outputs.parameters[0].valueFrom.path",
         "templates.main.outputs.parameters.o.path must be specified for Container templates"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, outputs: {parameters: [{name: o, valueFrom: "
                 "{jsonPath: '{.a}'}}]}, resource: {action: get, manifest: 'a: b'}}"),
    ),
    (
        "volume mounts do not collide",
        workflow("entrypoint: main\nvolumes: [{name: v, emptyDir: {}}, {name: w, emptyDir: {}}]\ntemplates:\n"
                 "- {name: main, container: {image: a, volumeMounts: [{name: v, mountPath: /d}, "
                 "{name: w, mountPath: /d}]}}"),
        ("spec.templates[0].container.volumeMounts[1].mountPath",
         "templates.main.container.volumeMounts[1].mountPath '/d' already mounted in container.volumeMounts.v"),
        workflow("entrypoint: main\nvolumes: [{name: v, emptyDir: {}}, {name: w, emptyDir: {}}]\ntemplates:\n"
                 "- {name: main, container: {image: a, volumeMounts: [{name: v, mountPath: /d}, "
                 "{name: w, mountPath: /e}]}}"),
    ),
    (
        "metric names",
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}, metrics: {prometheus: "
                 "[{name: my-metric, help: h, counter: {value: '1'}}]}}"),
        ("spec.templates[0].metrics.prometheus[0].name",
         "templates.main metric name 'my-metric' is invalid. Metric names must contain alphanumeric characters or "
         "'_'"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}, metrics: {prometheus: "
                 "[{name: my_metric, help: h, counter: {value: '1'}}]}}"),
    ),
    (
        "metric help",
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}, metrics: {prometheus: "
                 "[{name: m, help: '', counter: {value: '1'}}]}}"),
        ("spec.templates[0].metrics.prometheus[0].help",
         "templates.main metric 'm' must contain a help string under 'help: ' field"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}, metrics: {prometheus: "
                 "[{name: m, help: runs, counter: {value: '1'}}]}}"),
    ),
    (
        "metric values",
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}, metrics: {prometheus: "
                 "[{name: m, help: h, counter: {}}]}}"),
        ("spec.templates[0].metrics.prometheus[0].counter.value", "templates.main metric 'm' error: missing "
                                                                  "counter.value"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}, metrics: {prometheus: "
                 "[{name: m, help: h, counter: {value: '1'}}]}}"),
    ),
    (
        "metric label keys",
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}, metrics: {prometheus: "
                 "[{name: m, help: h, labels: [{key: team-name, value: x}], counter: {value: '1'}}]}}"),
        ("spec.templates[0].metrics.prometheus[0].labels[0].key",
         "metric label 'team-name' is invalid: keys may only contain alphanumeric characters or '_'"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}, metrics: {prometheus: "
                 "[{name: m, help: h, labels: [{key: team_name, value: x}], counter: {value: '1'}}]}}"),
    ),
    (
        "podGC strategy",
        workflow("entrypoint: main\npodGC: {strategy: Sometimes}\ntemplates:\n- {name: main, container: {image: a}}"),
        ("spec.podGC.strategy", "podGC.strategy unknown strategy 'Sometimes'"),
        workflow("entrypoint: main\npodGC: {strategy: OnPodSuccess}\ntemplates:\n"
                 "- {name: main, container: {image: a}}"),
    ),
    (
        "hooks need an expression",
        workflow("entrypoint: main\nhooks: {running: {template: main}}\ntemplates:\n"
                 "- {name: main, container: {image: a}}"),
        ("spec.hooks.running.expression", "hooks.running Expression required"),
        workflow("entrypoint: main\nhooks: {running: {template: main, expression: workflow.status == 'Running'}}\n"
                 "templates:\n- {name: main, container: {image: a}}"),
    ),
    (
        "templateRef resolves",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, templateRef: {name: library, "
                 "template: ehco}, arguments: {parameters: [{name: message, value: x}]}}]]"),
        ("spec.templates[0].steps[0][0].templateRef.template",
         "templates.main.steps[0].s template reference library.ehco not found"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, templateRef: {name: library, "
                 "template: echo}, arguments: {parameters: [{name: message, value: x}]}}]]"),
    ),
    (
        "templateRef names an existing WorkflowTemplate",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  dag: {tasks: [{name: t, templateRef: {name: libary, "
                 "template: echo}}]}"),
        ("spec.templates[0].dag.tasks[0].templateRef",
         'templates.main.tasks.t workflowtemplates.argoproj.io "libary" not found'),
        workflow("entrypoint: main\narguments: {parameters: [{name: who, value: me}]}\ntemplates:\n- name: main\n"
                 "  dag: {tasks: [{name: t, templateRef: {name: shared, template: hello, clusterScope: true}}]}"),
    ),
    (
        "templates reached through templateRef are validated too",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, templateRef: {name: faulty, "
                 "template: broken}}]]"),
        ("spec.templates[0].steps[0][0].templateRef",
         "templates.main.steps[0].s templates.broken.container.image may not be empty"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, templateRef: {name: library, "
                 "template: echo}, arguments: {parameters: [{name: message, value: x}]}}]]"),
    ),
    (
        "workflowTemplateRef excludes templates",
        workflow("workflowTemplateRef: {name: shared, clusterScope: true}\ntemplates:\n- {name: x, container: "
                 "{image: a}}"),
        ("spec.templates", "Templates is invalid field in spec if workflow referred WorkflowTemplate reference"),
        workflow("workflowTemplateRef: {name: shared, clusterScope: true}\narguments: {parameters: [{name: who, "
                 "value: you}]}"),
    ),
    (
        "an input artifact of a container template needs a path",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  inputs: {artifacts: [{name: data, s3: {key: k}}]}\n"
                 "  container: {image: a}"),
        ("spec.templates[0].inputs.artifacts[0].path",
         "error in templates.main.inputs.artifacts.data: Artifact 'data' did not specify a path"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  inputs: {artifacts: [{name: data, path: /data, s3: "
                 "{key: k}}]}\n  container: {image: a}"),
    ),
    (
        "an output artifact of a container template needs a path",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  outputs: {artifacts: [{name: model}]}\n"
                 "  container: {image: a}"),
        ("spec.templates[0].outputs.artifacts[0].path",
         "error in templates.main.outputs.artifacts.model: Artifact 'model' did not specify a path"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  outputs: {artifacts: [{name: model, path: /out}]}\n"
                 "  container: {image: a}"),
    ),
    (
        "a number where Kubernetes wants a string (only Argo's parameter values take any scalar)",
        workflow("entrypoint: main\narguments: {parameters: [{name: epochs, value: 3}]}\nnodeSelector: {gpu: true}\n"
                 "templates:\n- name: main\n  container: {image: a, env: [{name: EPOCHS, value: 3}]}"),
        ("spec.templates[0].container.env[0].value", "must be of type string, got integer"),
        workflow("entrypoint: main\narguments: {parameters: [{name: epochs, value: 3}]}\nnodeSelector: {gpu: 'true'}\n"
                 "templates:\n- name: main\n  container: {image: a, env: [{name: EPOCHS, value: '3'}]}"),
    ),
    (
        "resource quantities Kubernetes can read",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  container: {image: a, resources: {limits: "
                 "{memory: 4GB, cpu: 2}}}"),
        ("spec.templates[0].container.resources.limits.memory",
         "'4GB': quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' "
         "(e.g. 500m, 4Gi, 0.5)"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  inputs: {parameters: [{name: mem, value: 1Gi}]}\n"
                 "  container: {image: a, resources: {limits: {memory: 4Gi, cpu: 500m, nvidia.com/gpu: 1}, "
                 "requests: {memory: '{{inputs.parameters.mem}}', cpu: 0.5}}}"),
    ),
    (
        "withItems that is not a list (Argo's decoder rejects it)",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf, withItems: "
                 "'a,b'}]]\n" + LEAF),
        ("spec.templates[0].steps[0][0].withItems", "templates.main.steps[0].s withItems must be a list"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf, withItems: "
                 "[a, b]}]]\n" + LEAF),
    ),
]


@pytest.mark.parametrize(("rule", "invalid", "problem", "valid"), CASES, ids=[c[0] for c in CASES])
def test_rule_rejects_the_invalid_and_accepts_the_valid(rule: str, invalid: str, problem: tuple[str, str],
                                                        valid: str) -> None:
    assert problem in errors(validate(invalid))
    assert errors(validate(valid)) == []


# Rules that are ours, not Argo's (Argo only finds out when the workflow runs): a warning, never
# a denial, so that nothing Argo accepts is refused.
OUR_RULES: list[tuple[str, str, tuple[str, str], str]] = [
    (
        "Kubernetes enums the CRD leaves open (the pod would be refused)",
        workflow("entrypoint: main\ntolerations: [{key: gpu, operator: Exists, effect: NoSchedul}]\ntemplates:\n"
                 "- name: main\n  container: {image: a, imagePullPolicy: always}"),
        ("spec.templates[0].container.imagePullPolicy",
         'Unsupported value: "always": supported values: "Always", "IfNotPresent", "Never"'),
        workflow("entrypoint: main\ntolerations: [{key: gpu, operator: Exists, effect: NoSchedule}]\ntemplates:\n"
                 "- name: main\n  inputs: {parameters: [{name: pull, value: Always}]}\n"
                 "  container: {image: a, imagePullPolicy: '{{inputs.parameters.pull}}'}"),
    ),
    (
        "a literal withParam is a JSON list",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf, withParam: "
                 "'[1, 2'}]]\n" + LEAF),
        ("spec.templates[0].steps[0][0].withParam",
         "templates.main.steps[0].s withParam value could not be parsed as a JSON list: [1, 2"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf, withParam: "
                 "'[1, 2]'}]]\n" + LEAF),
    ),
    (
        "withSequence numbers",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf, withSequence: "
                 "{count: five}}]]\n" + LEAF),
        ("spec.templates[0].steps[0][0].withSequence.count",
         "templates.main.steps[0].s withSequence.count 'five' must be an integer or a {{...}} reference"),
        workflow("entrypoint: main\narguments: {parameters: [{name: n, value: '5'}]}\ntemplates:\n- name: main\n"
                 "  steps: [[{name: s, template: leaf, withSequence: {count: '{{workflow.parameters.n}}'}}]]\n" + LEAF),
    ),
    (
        "timeout is a Go duration",
        workflow("entrypoint: main\ntemplates:\n- {name: main, timeout: 30 seconds, container: {image: a}}"),
        ("spec.templates[0].timeout", "main has invalid duration format in timeout"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, timeout: 1h30m, container: {image: a}}"),
    ),
    (
        "suspend duration",
        workflow("entrypoint: main\ntemplates:\n- {name: main, suspend: {duration: 2 minutes}}"),
        ("spec.templates[0].suspend.duration",
         "templates.main.suspend.duration '2 minutes' is not a duration (e.g. 30s, 5m, or seconds)"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, suspend: {duration: '20'}}\n"
                 "- {name: other, suspend: {duration: 2m}}"),
    ),
    (
        "retry backoff durations",
        workflow("entrypoint: main\ntemplates:\n- {name: main, retryStrategy: {limit: 2, backoff: {duration: soon}}, "
                 "container: {image: a}}"),
        ("spec.templates[0].retryStrategy.backoff.duration",
         "templates.main.retryStrategy.backoff.duration 'soon' is not a duration (e.g. 30s, 5m)"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, retryStrategy: {limit: 2, backoff: {duration: '1', "
                 "factor: 2, maxDuration: 1m}}, container: {image: a}}"),
    ),
    (
        "synchronization names its lock",
        workflow("entrypoint: main\nsynchronization: {mutexes: [{namespace: x}]}\ntemplates:\n"
                 "- {name: main, container: {image: a}}"),
        ("spec.synchronization.mutexes[0].name", "mutex must have a name"),
        workflow("entrypoint: main\nsynchronization: {mutexes: [{name: one-at-a-time}]}\ntemplates:\n"
                 "- {name: main, container: {image: a}}"),
    ),
    (
        "semaphores name their source",
        workflow("entrypoint: main\ntemplates:\n- {name: main, synchronization: {semaphores: [{}]}, "
                 "container: {image: a}}"),
        ("spec.templates[0].synchronization.semaphores[0]", "semaphore must have either configMapKeyRef or database"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, synchronization: {semaphores: [{configMapKeyRef: "
                 "{name: limits, key: train}}]}, container: {image: a}}"),
    ),
    (
        "retryStrategy.limit is a count (Argo only finds out when the step fails)",
        workflow("entrypoint: main\ntemplates:\n- {name: main, retryStrategy: {limit: three}, container: {image: a}}"),
        ("spec.templates[0].retryStrategy.limit",
         "templates.main.retryStrategy.limit 'three' must be a non-negative integer or a {{...}} reference"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  inputs: {parameters: [{name: n, value: '2'}]}\n"
                 "  retryStrategy: {limit: '{{inputs.parameters.n}}'}\n  container: {image: a}"),
    ),
    (
        "a negative retryStrategy.limit",
        workflow("entrypoint: main\ntemplates:\n- {name: main, retryStrategy: {limit: -1}, container: {image: a}}"),
        ("spec.templates[0].retryStrategy.limit",
         "templates.main.retryStrategy.limit '-1' must be a non-negative integer or a {{...}} reference"),
        workflow("entrypoint: main\ntemplates:\n- {name: main, retryStrategy: {limit: '3'}, container: {image: a}}"),
    ),
    (
        "a step's onExit names a template that exists",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf, onExit: "
                 "cleanup}]]\n" + LEAF),
        ("spec.templates[0].steps[0][0].onExit", "templates.main.steps[0].s.onExit template name 'cleanup' undefined"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, template: leaf, onExit: "
                 "leaf}]]\n" + LEAF),
    ),
    (
        "a hook runs a template that exists",
        workflow("entrypoint: leaf\nhooks: {exit: {template: notify}}\ntemplates:\n" + LEAF),
        ("spec.hooks.exit", "hooks.exit template name 'notify' undefined"),
        workflow("entrypoint: leaf\nhooks: {exit: {template: leaf}}\ntemplates:\n" + LEAF),
    ),
    (
        "a task's hook runs a template that exists",
        workflow("entrypoint: main\ntemplates:\n- name: main\n  dag: {tasks: [{name: t, template: leaf, hooks: "
                 "{running: {expression: 'tasks.t.status == \"Running\"', template: ping}}}]}\n" + LEAF),
        ("spec.templates[0].dag.tasks[0].hooks.running",
         "templates.main.tasks.t.running template name 'ping' undefined"),
        workflow("entrypoint: main\ntemplates:\n- name: main\n  dag: {tasks: [{name: t, template: leaf, hooks: "
                 "{running: {expression: 'tasks.t.status == \"Running\"', template: leaf}}}]}\n" + LEAF),
    ),
]


@pytest.mark.parametrize(("rule", "invalid", "problem", "valid"), OUR_RULES, ids=[c[0] for c in OUR_RULES])
def test_our_rule_warns_about_the_invalid_and_not_the_valid(rule: str, invalid: str, problem: tuple[str, str],
                                                            valid: str) -> None:
    report = validate(invalid)
    assert problem in [(p.path, p.message) for p in report.warnings]
    assert problem not in errors(report)
    assert problem not in [(p.path, p.message) for p in validate(valid).warnings]


def cron(spec: str) -> str:
    return ("apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nmetadata: {name: nightly}\nspec:\n"
            + textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ") + "\n  workflowSpec:\n    entrypoint: main\n"
            "    templates:\n    - {name: main, container: {image: a}}\n")


@pytest.mark.parametrize(("spec", "problem"), [
    ("schedules: ['61 * * * *']",
     ("spec.schedules[0]", "cron schedule 61 * * * * is malformed: end of range (61) above maximum (59): 61")),
    ("schedules: ['* * * *']",
     ("spec.schedules[0]", "cron schedule * * * * is malformed: expected exactly 5 fields, found 4: [* * * *]")),
    ("schedules: ['@fortnightly']",
     ("spec.schedules[0]", "cron schedule @fortnightly is malformed: unrecognized descriptor: @fortnightly")),
    ("schedules: ['0 0 * * mon-xyz']",
     ("spec.schedules[0]", 'cron schedule 0 0 * * mon-xyz is malformed: failed to parse int from xyz: '
                           'strconv.Atoi: parsing "xyz": invalid syntax')),
    ("schedules: ['0 * * * *']\nconcurrencyPolicy: Sometimes",
     ("spec.concurrencyPolicy", "'Sometimes' is not a valid concurrencyPolicy")),
    ("schedules: ['0 * * * *']\nstartingDeadlineSeconds: -1",
     ("spec.startingDeadlineSeconds", "startingDeadlineSeconds must be positive")),
    ("schedules: ['0 * * * *']\ntimezone: Mars/Olympus",
     ("spec.timezone", 'invalid timezone "Mars/Olympus": unknown time zone Mars/Olympus')),
    ("schedules: ['0 * * * *']\ntimezone: America",  # a directory of the zone database, not a zone
     ("spec.timezone", 'invalid timezone "America": unknown time zone America')),
])
def test_cron_workflow_rule(spec: str, problem: tuple[str, str]) -> None:
    assert problem in errors(validate(cron(spec)))


@pytest.mark.parametrize("spec", [
    "schedules: ['*/15 9-17 * JAN-MAR MON-FRI', '@hourly', '@every 1h30m', 'CRON_TZ=Europe/Paris 0 0 1 * ?']",
    "schedules: ['0 2 * * *']\ntimezone: America/New_York\nconcurrencyPolicy: Forbid\nstartingDeadlineSeconds: 0",
])
def test_cron_workflow_valid(spec: str) -> None:
    assert errors(validate(cron(spec))) == []


def warnings(report: Report) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in report.warnings]


def test_argo_3_single_schedule_and_locks_are_accepted_with_a_deprecation_warning() -> None:
    manifest = cron("schedule: '0 2 * * *'").replace(
        "    templates:\n", "    synchronization: {semaphore: {configMapKeyRef: {name: limits, key: gpu}}}\n"
                            "    templates:\n").replace("{name: main, container:",
                                                     "{name: main, synchronization: {mutex: {name: m}}, container:")
    report = validate(manifest)
    assert errors(report) == []
    assert warnings(report) == [
        ("spec.schedule", "schedule is deprecated since Argo 3.6 and dropped by later versions: use schedules: [...]"),
        ("spec.workflowSpec.templates[0].synchronization.mutex",
         "mutex is deprecated since Argo 3.6 and dropped by later versions: use mutexes: [...]"),
        ("spec.workflowSpec.synchronization.semaphore",
         "semaphore is deprecated since Argo 3.6 and dropped by later versions: use semaphores: [...]"),
    ]


def test_argo_3_single_forms_are_still_checked() -> None:
    assert ("spec.schedule", "cron schedule 0 0 * * * * is malformed: expected exactly 5 fields, found 6: "
                             "[0 0 * * * *]") in errors(validate(cron("schedule: '0 0 * * * *'")))
    bad_lock = workflow("entrypoint: main\nsynchronization: {mutex: {}}\ntemplates:\n- {name: main, container: "
                        "{image: a}}")
    assert ("spec.synchronization.mutex.name", "mutex must have a name") in warnings(validate(bad_lock))


def test_cron_workflow_spec_problems_are_prefixed_as_argo_does() -> None:
    manifest = cron("schedules: ['0 * * * *']").replace("{image: a}", "{image: ''}")
    assert errors(validate(manifest)) == [("spec.workflowSpec.templates[0].container.image",
                                           "cannot validate Workflow: templates.main.container.image may not be empty")]


def test_name_length_limits() -> None:
    long_name = "n" * 53
    assert ("metadata.name", f'cron workflow name "{long_name}" must not be more than 52 characters long '
                             "(currently 53)") in errors(validate(cron("schedules: ['0 * * * *']")
                                                              .replace("name: nightly", f"name: {long_name}")))
    assert errors(validate(workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}}")
                           .replace("name: wf", f"name: {long_name}"))) == []


def test_workflow_templates_may_leave_arguments_and_workflow_parameters_open() -> None:
    manifest = """\
        apiVersion: argoproj.io/v1alpha1
        kind: WorkflowTemplate
        metadata: {name: t}
        spec:
          arguments: {parameters: [{name: p}]}
          templates:
          - {name: main, container: {image: a, args: ["{{workflow.parameters.from-the-caller}}"]}}
        """
    assert validate(manifest).problems == []


def test_every_problem_is_reported_not_only_the_first() -> None:
    report = validate(workflow("entrypiont: main\ntemplates:\n- {name: main, container: {}}\n- {name: main}"))
    assert errors(report) == [
        ("spec.entrypiont", 'unknown field "entrypiont"'),
        ("spec.templates[1].name", "spec.templates[1].name 'main' is not unique"),
        ("spec.entrypoint", "spec.entrypoint is required"),
        ("spec.templates[0].container.image", "templates.main.container.image may not be empty"),
    ]


def test_problems_inside_an_inline_template_point_into_it() -> None:
    report = validate(workflow("entrypoint: main\ntemplates:\n- name: main\n  steps: [[{name: s, inline: "
                               "{container: {image: a, args: ['{{inputs.parameters.nope}}']}}}]]"))
    assert errors(report) == [("spec.templates[0].steps[0][0].inline.container.args[0]",
                               "templates.s: failed to resolve {{inputs.parameters.nope}}")]


def test_a_typo_inside_an_inline_template_is_caught() -> None:
    report = validate(workflow("entrypoint: main\ntemplates:\n- name: main\n  dag: {tasks: [{name: t, inline: "
                               "{contianer: {image: a}}}]}"))
    assert ("spec.templates[0].dag.tasks[0].inline.contianer", 'unknown field "contianer"') in errors(report)


@pytest.mark.parametrize(("obj", "problem"), [
    ({"kind": "Pod"}, ("kind", "cannot validate kind 'Pod': expected one of ClusterWorkflowTemplate, CronWorkflow, "
                               "HyperparamWorkflow, Workflow, WorkflowTemplate")),
    ([], ("", "must be an object (a Kubernetes resource)")),
])
def test_what_is_not_an_argo_resource_is_rejected_with_a_reason(obj: Any, problem: tuple[str, str]) -> None:
    assert errors(validate_object(obj)) == [problem]


def test_a_resource_nested_deeper_than_the_checks_can_follow_is_denied_with_a_reason() -> None:
    template: dict[str, Any] = {"container": {"image": "a"}}
    for depth in range(2000):
        template = {"steps": [[{"name": f"s{depth}", "inline": template}]]}
    deep = yaml.safe_load(workflow("entrypoint: main\ntemplates: []"))
    deep["spec"]["templates"] = [{"name": "main", **template}]
    assert errors(validate_object(deep)) == [
        ("", "nested too deeply to validate (inline templates or values hundreds of levels deep)")]


def test_a_workflow_templates_parameter_values_are_defaults_so_their_items_are_not_assumed() -> None:
    manifest = workflow("entrypoint: main\narguments: {parameters: [{name: shards, value: '[{\"id\": 1}]'}]}\n"
                        "templates:\n- name: main\n  steps: [[{name: s, template: leaf, withParam: "
                        "'{{workflow.parameters.shards}}', arguments: {parameters: [{name: x, value: "
                        "'{{item.idx}}'}]}}]]\n" + LEAF).replace("kind: Workflow", "kind: WorkflowTemplate")
    assert errors(validate(manifest)) == []


def test_argos_any_string_fields_take_any_scalar_and_others_do_not() -> None:
    manifest = workflow("entrypoint: main\nnodeSelector: {gpu: true}\ntemplates:\n- name: main\n"
                        "  inputs: {parameters: [{name: lr, default: 0.1, enum: [0.1, 0.2], description: 1}]}\n"
                        "  container: {image: a}")
    assert errors(validate(manifest)) == [("spec.nodeSelector.gpu", "must be of type string, got boolean")]


def test_extended_resource_quantities_are_checked_too() -> None:
    manifest = workflow("entrypoint: main\ntemplates:\n- name: main\n  container: {image: a, resources: "
                        "{limits: {nvidia.com/gpu: one}}}")
    assert [path for path, _ in errors(validate(manifest))] == [
        "spec.templates[0].container.resources.limits.nvidia.com/gpu"]


def test_a_wrong_type_does_not_hide_the_other_problems() -> None:
    obj = {"kind": "Workflow", "metadata": {"name": "x"}, "spec": {"templates": "all of them"}}
    assert errors(validate_object(obj)) == [("spec.templates", "must be of type array, got string"),
                                            ("spec.entrypoint", "spec.entrypoint is required")]


def test_status_written_by_the_controller_is_not_checked() -> None:
    manifest = workflow("entrypoint: main\ntemplates:\n- {name: main, container: {image: a}}")
    manifest += "status: {phase: Running, nodes: {wf: {anything: goes}}}\n"
    assert validate(manifest).problems == []


def test_a_wrapped_spec_is_checked_except_for_the_wrappers_own_fields() -> None:
    spec = {"hyperparams": {"lr": {"values": [0.1]}}, "algorithm": "grid", "entrypoint": "main",
            "templats": [], "templates": [{"name": "main", "container": {"image": ""}}]}
    report = Report()
    validate_workflow_spec(spec, DocumentResolver([]), report, own_fields=frozenset({"hyperparams", "algorithm"}))
    assert errors(report) == [("spec.templats", 'unknown field "templats"'),
                              ("spec.templates[0].container.image", "templates.main.container.image may not be empty")]


def test_a_field_the_schema_and_argo_both_reject_is_reported_once_in_argos_words() -> None:
    report = validate(workflow("entrypoint: main\npodGC: {strategy: Sometimes}\ntemplates:\n"
                               "- {name: main, dag: {tasks: [{template: leaf}]}}\n" + LEAF))
    assert errors(report) == [("spec.templates[0].dag.tasks[0].name", "templates.main.tasks[0].name is required"),
                              ("spec.podGC.strategy", "podGC.strategy unknown strategy 'Sometimes'")]
