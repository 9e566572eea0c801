"""Argo's answer where it is easy to get wrong: what Argo accepts (substituted before it is
checked, resolved at run time, required only by the CRD) and exactly what it says when it refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from argoml.validation import labels
from argoml.validation.substitution import substitute
from tests.argo_manifests import errors, validate, warnings, workflow

# -- what Argo substitutes before it checks ------------------------------------------------------

def test_a_task_named_by_a_workflow_parameter_takes_its_value() -> None:
    manifest = """
        entrypoint: main
        arguments: {parameters: [{name: task, value: NAME}]}
        templates:
        - name: main
          dag: {tasks: [{name: "{{workflow.parameters.task}}", template: leaf}]}
        - {name: leaf, container: {image: alpine}}
    """
    assert errors(validate(workflow(manifest.replace("NAME", "train")))) == []
    assert errors(validate(workflow(manifest.replace("NAME", "no_underscores")))) == [
        ("spec.templates[0].dag.tasks[0].name",
         "templates.main.tasks[0].name: 'no_underscores' is invalid: name must consist of alpha-numeric characters "
         "or '-', and must start with an alpha-numeric character (e.g. My-name1-2, 123-NAME)")]


def test_a_template_called_by_a_workflow_parameter_resolves_to_its_value() -> None:
    manifest = """
        entrypoint: main
        arguments: {parameters: [{name: which, value: NAME}]}
        templates:
        - name: main
          steps: [[{name: run, template: "{{workflow.parameters.which}}"}]]
        - {name: leaf, container: {image: alpine}}
    """
    assert errors(validate(workflow(manifest.replace("NAME", "leaf")))) == []
    assert errors(validate(workflow(manifest.replace("NAME", "missing")))) == [
        ("spec.templates[0].steps[0][0].template", "templates.main.steps[0].run template name 'missing' undefined")]


def test_a_resource_action_given_by_the_workflow_is_checked() -> None:
    report = validate(workflow("""
        entrypoint: res
        arguments: {parameters: [{name: verb, value: destroy}]}
        templates:
        - name: res
          inputs: {parameters: [{name: verb}]}
          resource: {action: "{{inputs.parameters.verb}}"}
    """))
    assert ("spec.templates[0].resource.action", "templates.res.resource.action must be one of: get, create, apply, "
                                                 "delete, replace, patch") in errors(report)


# -- resolved at run time --------------------------------------------------------------------------

def test_a_template_ref_named_by_a_parameter_is_resolved_at_run_time() -> None:
    report = validate(workflow("""
        entrypoint: main
        templates:
        - name: main
          inputs: {parameters: [{name: lib, value: somewhere}]}
          steps: [[{name: s, templateRef: {name: "{{inputs.parameters.lib}}", template: anything}}]]
    """, kind="WorkflowTemplate"))
    assert errors(report) == []


def test_a_workflow_template_ref_named_by_a_parameter_value_is_resolved_with_it() -> None:
    manifest = """
        workflowTemplateRef: {name: "{{workflow.parameters.which}}"}
        entrypoint: echo
        arguments: {parameters: [{name: which, value: NAME}, {name: message, value: hi}]}
    """
    assert errors(validate(workflow(manifest.replace("NAME", "library")))) == []
    assert errors(validate(workflow(manifest.replace("NAME", "nowhere")))) == [
        ("spec.workflowTemplateRef", 'workflowtemplates.argoproj.io "nowhere" not found')]


def test_an_exit_handler_may_use_any_global_artifact_when_one_is_exported_under_a_parameterised_name() -> None:
    manifest = """
        entrypoint: main
        onExit: report
        templates:
        - name: main
          container: {image: alpine}
          outputs: {artifacts: [{name: o, path: /o, globalName: "GLOBAL"}]}
        - name: report
          container: {image: alpine, args: ["{{workflow.outputs.artifacts.anything}}"]}
    """
    assert errors(validate(workflow(manifest.replace("GLOBAL", "{{workflow.name}}-o")))) == []
    assert errors(validate(workflow(manifest.replace("GLOBAL", "fixed")))) == [
        ("spec.templates[1].container.args[0]", "templates.report: failed to resolve "
                                                 "{{workflow.outputs.artifacts.anything}}")]


# -- not Argo's rules: warnings ---------------------------------------------------------------------

def test_a_volume_mount_without_a_volume_is_a_warning_not_a_denial() -> None:
    report = validate(workflow("""
        entrypoint: main
        templates:
        - {name: main, container: {image: alpine, volumeMounts: [{name: work, mountPath: /w}]}}
    """))
    assert errors(report) == []
    assert warnings(report) == [("spec.templates[0].container.volumeMounts[0].name",
                                 "templates.main.container.volumeMounts[0].name 'work' is not a volume of the "
                                 "template or the workflow")]


def test_a_volume_mount_named_by_a_variable_is_not_questioned() -> None:
    report = validate(workflow("""
        entrypoint: main
        templates:
        - {name: main, container: {image: alpine, volumeMounts: [{name: "{{workflow.name}}", mountPath: /w}]}}
    """))
    assert report.problems == []


def test_a_field_only_the_crd_requires_is_a_warning() -> None:
    report = validate(workflow("""
        entrypoint: main
        templates:
        - name: main
          memoize: {key: k, cache: {configMap: {name: c}}}
          container: {image: alpine}
    """))
    assert errors(report) == []
    assert [path for path, _ in warnings(report)] == ["spec.templates[0].memoize.maxAge"]


def test_a_workflow_template_without_a_spec_is_accepted_with_a_warning() -> None:
    report = validate("apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: empty}\n")
    assert errors(report) == []
    assert [path for path, _ in warnings(report)] == ["spec"]


def test_a_workflow_without_a_spec_lacks_its_entrypoint() -> None:
    report = validate("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: empty}\n")
    assert errors(report) == [("spec.entrypoint", "spec.entrypoint is required")]


# -- Argo's words ---------------------------------------------------------------------------------

def test_an_argument_missing_for_a_referenced_template_names_the_template() -> None:
    report = validate(workflow("""
        entrypoint: main
        templates:
        - name: main
          steps: [[{name: call, templateRef: {name: library, template: echo}}]]
    """))
    assert errors(report) == [("spec.templates[0].steps[0][0]", "templates.main.steps[0].call templates.echo "
                                                                "inputs.parameters.message was not supplied")]


def test_an_init_container_without_a_name_names_its_template() -> None:
    report = validate(workflow("""
        entrypoint: main
        templates:
        - {name: main, initContainers: [{image: alpine}], container: {image: alpine}}
    """))
    assert errors(report) == [("spec.templates[0].initContainers[0].name",
                               "templates.main initContainers must all have container name")]


def test_a_name_too_long_is_counted_in_bytes_as_go_counts_it() -> None:
    name = "é" * 32
    report = validate(workflow("entrypoint: main\ntemplates: [{name: main, container: {image: a}}]").replace(
        "{name: wf}", f"{{name: {name}}}"))
    assert ("metadata.name", f'workflow name "{name}" must not be more than 63 characters long (currently 64)') \
        in errors(report)


# -- what Argo refuses ----------------------------------------------------------------------------

def test_pod_level_resources_take_cpu_memory_and_hugepages_only() -> None:
    report = validate(workflow("""
        entrypoint: main
        podResources: {limits: {cpu: "2", memory: 4Gi, hugepages-2Mi: 1Gi}, requests: {nvidia.com/gpu: "1"}}
        templates:
        - {name: main, podResources: {limits: {ephemeral-storage: 1Gi}}, container: {image: alpine}}
    """))
    assert sorted(errors(report)) == [
        ("spec.podResources.requests.nvidia.com/gpu", "podResources.requests: resource 'nvidia.com/gpu' is not "
                                                      "supported at pod level: only cpu, memory and hugepages-* are"),
        ("spec.templates[0].podResources.limits.ephemeral-storage",
         "templates.main.podResources.limits: resource 'ephemeral-storage' is not supported at pod level: only cpu, "
         "memory and hugepages-* are")]


def test_pod_level_resources_take_no_claims() -> None:
    report = validate(workflow("""
        entrypoint: main
        podResources: {claims: [{name: gpu}]}
        templates: [{name: main, container: {image: alpine}}]
    """))
    assert errors(report) == [("spec.podResources.claims",
                               "podResources.claims: resource claims are not supported at pod level")]


def test_sidecars_and_container_set_containers_may_not_take_argos_container_names() -> None:
    report = validate(workflow("""
        entrypoint: main
        templates:
        - {name: main, sidecars: [{name: wait, image: a}, {name: proxy, image: a}], container: {image: alpine}}
        - name: set
          containerSet: {containers: [{name: supervisor, image: a}, {name: artifact-plugin-s3, image: a}]}
    """))
    reserved = "is reserved for Argo's own containers (wait, supervisor and artifact-plugin-*)"
    assert errors(report) == [
        ("spec.templates[0].sidecars[0].name", f"templates.main.sidecars[0].name 'wait' {reserved}"),
        ("spec.templates[1].containerSet.containers[0].name",
         f"templates.set.containerSet.containers[0].name 'supervisor' {reserved}"),
        ("spec.templates[1].containerSet.containers[1].name",
         f"templates.set.containerSet.containers[1].name 'artifact-plugin-s3' {reserved}")]


def test_an_executor_plugin_needs_a_name() -> None:
    manifest = """
        entrypoint: main
        executorPlugins: [{METADATA spec: {sidecar: {container: {name: plugin, image: p}}}}]
        templates: [{name: main, container: {image: alpine}}]
    """
    assert errors(validate(workflow(manifest.replace("METADATA", "metadata: {name: hello},")))) == []
    assert errors(validate(workflow(manifest.replace("METADATA", "")))) == [
        ("spec.executorPlugins[0].metadata.name", "executorPlugins[0].metadata.name is required")]


def pod_gc(selector: str) -> list[tuple[str, str]]:
    return errors(validate(workflow(f"""
        entrypoint: main
        podGC: {{strategy: OnPodSuccess, labelSelector: {selector}}}
        templates: [{{name: main, container: {{image: alpine}}}}]
    """)))


def test_a_pod_gc_label_selector_with_an_unknown_operator_is_refused_in_kubernetes_words() -> None:
    assert pod_gc("{matchExpressions: [{key: app, operator: Equals, values: [a]}]}") == [
        ("spec.podGC.labelSelector", 'podGC.labelSelector invalid: "Equals" is not a valid label selector operator')]


def test_a_pod_gc_label_selector_set_operator_needs_values() -> None:
    assert pod_gc("{matchExpressions: [{key: app, operator: In}]}") == [
        ("spec.podGC.labelSelector", "podGC.labelSelector invalid: values: Invalid value: []string(nil): for 'in', "
                                     "'notin' operators, values set can't be empty")]


def test_a_pod_gc_label_selector_exists_takes_no_values() -> None:
    assert pod_gc("{matchExpressions: [{key: app, operator: Exists, values: [a]}]}") == [
        ("spec.podGC.labelSelector", 'podGC.labelSelector invalid: values: Invalid value: []string{"a"}: values set '
                                     'must be empty for exists and does not exist')]


def test_a_pod_gc_label_selector_key_and_value_follow_label_syntax() -> None:
    [(path, message)] = pod_gc("{matchLabels: {'bad key': 'bad value'}}")
    assert path == "spec.podGC.labelSelector"
    assert message.startswith('podGC.labelSelector invalid: [key: Invalid value: "bad key": name part must consist of '
                              "alphanumeric characters")
    assert 'values[0]: Invalid value: "bad value": a valid label must be an empty string' in message


def test_a_valid_pod_gc_label_selector_is_accepted() -> None:
    assert pod_gc("{matchLabels: {example.com/team: ml}, matchExpressions: [{key: tier, operator: NotIn, "
                  "values: [db]}, {key: gpu, operator: DoesNotExist}]}") == []


def test_label_and_annotation_values_must_be_strings_as_go_decodes_them() -> None:
    report = validate(workflow("entrypoint: main\ntemplates: [{name: main, container: {image: a}}]").replace(
        "{name: wf}", "{name: wf, labels: {replicas: 3}, annotations: {enabled: true}}"))
    assert errors(report) == [("metadata.labels.replicas", "must be of type string, got integer"),
                              ("metadata.annotations.enabled", "must be of type string, got boolean")]


def test_an_artifact_path_may_not_climb_out_of_its_directory() -> None:
    manifest = """
        entrypoint: main
        templates:
        - name: main
          container: {image: alpine}
          outputs: {artifacts: [{name: out, path: PATH}]}
    """
    assert errors(validate(workflow(manifest.replace("PATH", "/tmp/safe/../x")))) == [
        ("spec.templates[0].outputs.artifacts[0].path", "error in templates.main.outputs.artifacts.out: Artifact "
                                                        "'out' attempted to use a path containing '..'. Directory "
                                                        "traversal is not permitted")]
    assert errors(validate(workflow(manifest.replace("PATH", "/tmp/safe/a..b/x")))) == []


def test_an_hdfs_artifact_needs_its_location() -> None:
    report = validate(workflow("""
        entrypoint: main
        templates:
        - name: main
          inputs: {artifacts: [{name: data, path: /d, hdfs: {addresses: [nn:8020], path: relative/file}}]}
          container: {image: alpine}
    """))
    assert errors(report) == [("spec.templates[0].inputs.artifacts[0].hdfs.path",
                               "templates.main.inputs.artifacts.data.hdfs.path must be a absolute file path")]


def test_dag_sorting_failures_carry_argos_sentence_first() -> None:
    report = validate(workflow("""
        entrypoint: main
        templates:
        - name: main
          dag: {tasks: [{name: a, template: leaf, depends: b}, {name: b, template: leaf, depends: a}]}
        - {name: leaf, container: {image: alpine}}
    """))
    assert [message.split(" (")[0] for _, message in errors(report)] == [
        "templates.main sorting failed: graph with cycle"]


def test_a_workflow_looping_over_a_literal_list_may_use_any_item_key_as_in_argo() -> None:
    report = validate(workflow("""
        entrypoint: main
        arguments: {parameters: [{name: rows, value: '[{"idx": 1}]'}]}
        templates:
        - name: main
          steps: [[{name: s, template: leaf, withParam: "{{workflow.parameters.rows}}",
                    arguments: {parameters: [{name: x, value: "{{item.other}}"}]}}]]
        - {name: leaf, inputs: {parameters: [{name: x}]}, container: {image: alpine}}
    """))
    assert report.problems == []


def test_a_label_no_one_declares_is_a_warning_since_the_controllers_defaults_may_add_it() -> None:
    report = validate(workflow("""
        entrypoint: main
        templates: [{name: main, container: {image: alpine, args: ["{{workflow.labels.team}}"]}}]
    """))
    assert errors(report) == []
    assert warnings(report) == [("spec.templates[0].container.args[0]",
                                 "templates.main: failed to resolve {{workflow.labels.team}}")]


# -- boundaries ---------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet="{}=a. \"\\\n", max_size=12),
                           lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(alphabet="{}ab", max_size=4), children, max_size=4),
                           max_leaves=20)


@pytest.mark.fuzz
@given(value=JSON_VALUES)
def test_substitution_changes_only_the_tags_it_knows(value: Any) -> None:
    assert substitute(value, lambda tag: None) is value
    replaced = substitute(value, lambda tag: 'say "X"' if tag == "a" else None)
    if "{{a}}" not in json.dumps(value):
        assert replaced is value
    elif replaced is not value:  # a quote in a value stays inside its string
        assert 'say \\"X\\"' in json.dumps(replaced)


@pytest.mark.fuzz
@given(selector=JSON_VALUES)
def test_any_label_selector_gets_an_answer_not_a_crash(selector: Any) -> None:
    problem = labels.selector_error(selector)
    assert problem is None or isinstance(problem, str)


def test_template_arguments_after_an_open_enum_are_not_checked_as_in_argo() -> None:
    report = validate(workflow("""
        arguments:
          parameters:
          - {name: size, enum: [s, m]}
          - {name: color, value: red, enum: [blue]}
        templates: [{name: main, container: {image: alpine}}]
    """, kind="WorkflowTemplate"))
    assert errors(report) == []


# -- what Argo accepts (each manifest validates with no error) ----------------------------------

ACCEPTED = {
    "a_step_named_by_an_input_parameter_is_valid": """
        entrypoint: main
        templates:
        - name: main
          steps: [[{name: call, template: inner, arguments: {parameters: [{name: x, value: first}]}}]]
        - name: inner
          inputs: {parameters: [{name: x}]}
          steps: [[{name: "{{inputs.parameters.x}}", template: leaf}]]
        - {name: leaf, container: {image: alpine}}
    """,
    "a_resource_action_from_an_input_parameter_is_valid": """
        entrypoint: main
        templates:
        - name: main
          steps: [[{name: r, template: res, arguments: {parameters: [{name: verb, value: create}]}}]]
        - name: res
          inputs: {parameters: [{name: verb}]}
          resource:
            action: "{{inputs.parameters.verb}}"
            manifest: "{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}"
    """,
    "output_artifact_names_and_global_names_from_inputs_are_valid": """
        entrypoint: main
        templates:
        - name: main
          steps: [[{name: s, template: produce, arguments: {parameters: [{name: tag, value: v1}]}}]]
        - name: produce
          inputs: {parameters: [{name: tag}]}
          container: {image: alpine}
          outputs:
            artifacts: [{name: "model-{{inputs.parameters.tag}}", path: /m, globalName: "g-{{inputs.parameters.tag}}"}]
            parameters: [{name: "p-{{inputs.parameters.tag}}", valueFrom: {path: /p}}]
    """,
    "a_timeout_from_an_input_parameter_is_valid": """
        entrypoint: main
        templates:
        - name: main
          steps: [[{name: s, template: sleep, arguments: {parameters: [{name: t, value: 30s}]}}]]
        - name: sleep
          inputs: {parameters: [{name: t}]}
          timeout: "{{inputs.parameters.t}}"
          container: {image: alpine}
    """,
    "a_workflow_template_ref_named_by_a_parameter_without_a_value_is_resolved_at_run_time": """
        workflowTemplateRef: {name: "{{workflow.parameters.which}}"}
        arguments: {parameters: [{name: which, valueFrom: {supplied: {}}}]}
    """,
    "an_exit_handler_sees_parameterised_global_artifacts_of_the_referred_template": """
        workflowTemplateRef: {name: library}
        entrypoint: export
        onExit: echo
        arguments: {parameters: [{name: message, value: "{{workflow.outputs.artifacts.whatever}}"}]}
    """,
    "a_gauge_without_realtime_is_valid": """
        entrypoint: main
        templates:
        - {name: main, container: {image: alpine}, metrics: {prometheus: [{name: g, help: h, gauge: {value: "1"}}]}}
    """,
    "a_dag_task_may_use_a_global_output_of_a_task_it_depends_on_listed_after_it": """
        entrypoint: main
        templates:
        - name: main
          dag:
            tasks:
            - {name: consume, template: consumer, depends: produce}
            - {name: produce, template: producer}
        - name: producer
          container: {image: alpine}
          outputs: {parameters: [{name: p, globalName: shared, valueFrom: {path: /p}}]}
        - name: consumer
          container: {image: alpine, args: ["{{workflow.outputs.parameters.shared}}"]}
    """,
}


@pytest.mark.parametrize("manifest", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_argo_accepts(manifest: str) -> None:
    assert errors(validate(workflow(manifest))) == []
