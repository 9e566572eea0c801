"""``argoml expand`` previews a sweep as the cluster would take it: refused for what the webhook refuses.

Each mistake a newcomer makes is refused with a message naming the fix; what the commands
print for a person (indented JSON, the trials one per line) is only for a terminal.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoml import cli, manifests
from argoml.dev import runner

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = manifests.load_all((ROOT / "examples" / "hparam.yaml").read_text())[0]
STEP = ("spec", "templates", 0, "steps", 0, 0)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _sweep(tmp_path: Path, change: Any) -> Path:
    sweep = copy.deepcopy(EXAMPLE)
    change(sweep)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


def _step(sweep: dict[str, Any]) -> dict[str, Any]:
    step: Any = sweep
    for key in STEP:
        step = step[key]
    assert isinstance(step, dict)
    return step


def _rename(mapping: dict[str, Any], old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


def _set_item(sweep: dict[str, Any]) -> None:
    _step(sweep)["arguments"]["parameters"][0]["value"] = "{{item.learning_rate}}"


def _set_with_param(sweep: dict[str, Any]) -> None:
    _step(sweep)["withParam"] = "{{workflow.parameters.hyperparam}}"


def _drop_image(sweep: dict[str, Any]) -> None:
    del sweep["spec"]["templates"][1]["container"]["image"]


def _continuous_backwards(sweep: dict[str, Any]) -> None:
    sweep["spec"].update(algorithm="random", maxTrials=4)
    sweep["spec"]["hyperparams"]["learning-rate"] = {"range": {"min": 0.5, "max": 0.1}}


@pytest.mark.parametrize(("change", "expected"), [
    (lambda s: _rename(s["spec"], "parallelism", "parallelizm"),
     'spec.parallelizm: unknown field "parallelizm" (did you mean "parallelism"?)'),
    (lambda s: _rename(s["spec"], "hyperparams", "hyperparmas"),
     'spec.hyperparmas: unknown field "hyperparmas" (did you mean "hyperparams"?)'),
    (lambda s: s.update(hyperparmas=s["spec"].pop("hyperparams")),
     'hyperparmas: unknown field "hyperparmas" (did you mean "spec.hyperparams"?)'),
    (_set_item, "spec.templates[0].steps[0][0].arguments.parameters[0].value: failed to resolve "
                "{{item.learning_rate}} (the loop offers {{item.learning-rate}}, {{item.model}}; "
                'did you mean "{{item.learning-rate}}"?)'),
    (_set_with_param, "spec.templates[0].steps[0][0].withParam: failed to resolve "
                      '{{workflow.parameters.hyperparam}} (did you mean "{{workflow.parameters.hyperparams}}"?)'),
    (_drop_image, "spec.templates[1].container.image: may not be empty"),
    (_continuous_backwards, "spec.hyperparams.learning-rate.range: min 0.5 is greater than max 0.1: swap them "
                            "(min: 0.1, max: 0.5)"),
])
def test_expand_refuses_each_mistake_naming_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    change: Any, expected: str) -> None:
    path = _sweep(tmp_path, change)
    assert cli.main(["expand", str(path)]) == 1
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert f"{path}: example-hparam-sweep: {expected}" in lines, err
    assert out == ""  # nothing to apply
    assert "got null" not in err  # a misspelt hyperparams is said once, as the misspelling


def test_expand_without_validation_prints_what_it_would_generate(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = _sweep(tmp_path, _drop_image)
    assert cli.main(["expand", "--no-validate", str(path)]) == 0
    (workflow,) = manifests.load_all(capsys.readouterr().out)
    assert workflow["kind"] == "Workflow" and "image" not in workflow["spec"]["templates"][1]["container"]


def test_the_projects_examples_expand_and_validate_without_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        assert cli.main(["expand", str(example)]) == 0, example
        assert capsys.readouterr().err == "", example
    assert cli.main(["validate", *map(str, sorted((ROOT / "examples").glob("*.yaml")))]) == 0
    assert "warning" not in capsys.readouterr().out


def test_on_a_terminal_expand_prints_one_trial_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    assert cli.main(["expand", str(ROOT / "examples" / "hparam.yaml")]) == 0
    text = terminal.getvalue()
    assert '  {"learning-rate": 0.1, "model": "RandomForest"},\n' in text
    (workflow,) = manifests.load_all(text)
    compact = manifests.load_all(cli._workflows_yaml([workflow], readable=False))[0]
    value = workflow["spec"]["arguments"]["parameters"][0]["value"]
    assert json.loads(value) == json.loads(compact["spec"]["arguments"]["parameters"][0]["value"])
    assert len(json.loads(value)) == 15


def test_ping_to_a_port_where_nothing_listens_says_so_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{runner.free_port()}"
    assert cli.main(["ping", url]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"argoml ping: nothing answers at {url} (connection refused)")


def test_json_answers_are_indented_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    cli._write_json('{"examined": {"pods": 0}}')
    assert capsys.readouterr().out == '{"examined": {"pods": 0}}\n'
    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    cli._write_json('{"examined": {"pods": 0}}')
    cli._write_json("not json")
    assert terminal.getvalue() == '{\n  "examined": {\n    "pods": 0\n  }\n}\nnot json\n'
