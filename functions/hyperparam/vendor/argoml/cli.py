"""The ``argoml`` command: offline tools for users and CI pipelines.

Each subcommand is a small function registered in :data:`COMMANDS`; they share the
library code the functions run, so what they print is what the cluster would do.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from argoml.validation.report import Problem

Command = tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _ping_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sink", help="URL of the function, e.g. http://localhost:8084")
    parser.add_argument("--data", default="{}", help="the PingSource's spec.data (JSON)")
    parser.add_argument("--source", default="default/manual", metavar="NAMESPACE/NAME",
                        help="the PingSource the event claims to come from")


def _ping(args: argparse.Namespace) -> int:
    """POST one PingSource-format CloudEvent, as a manual run of a schedule."""
    from argoml.dev.delivery import deliver
    from argoml.dev.knative import ping_event

    namespace, _, name = args.source.partition("/")
    headers, body = ping_event(args.data, namespace=namespace, name=name or "manual")
    delivery = deliver(args.sink, headers, body, retries=0)
    if delivery.status == 0:
        sys.stderr.write(f"argoml ping: nothing answers at {args.sink} ({delivery.body.decode(errors='replace')}): "
                         "is the function running? (`make run` serves gc on http://127.0.0.1:8084)\n")
        return 1
    _write_json(delivery.body.decode(errors="replace"))
    return 0 if 200 <= delivery.status < 300 else 1


def _write_json(text: str) -> None:
    """A JSON answer as it came, or indented for a person when standard output is a terminal."""
    if sys.stdout.isatty():
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(text), indent=2)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _expand_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="YAML file with one or more HyperparamWorkflows ('-' for stdin)")
    parser.add_argument("--no-validate", dest="validate", action="store_false",
                        help="print the Workflows without checking them as the admission webhook does")
    parser.add_argument("--templates", action="append", default=[], metavar="PATH",
                        help="more WorkflowTemplates for templateRefs: a file, or a directory searched recursively "
                             "(those beside FILE are always used)")


def _expand(args: argparse.Namespace) -> int:
    """Print the Workflow each HyperparamWorkflow in the file would generate, once it passes the checks the
    admission webhook makes (errors and warnings go to standard error; any error exits 1)."""
    from argoml.hyperparam import search
    from argoml.hyperparam.workflow import KIND, generate
    from argoml.validation import validate_object
    from argoml.validation.files import UnreadableFile, parse, read, resolver_for

    try:
        source = parse("-", sys.stdin.read()) if args.file == "-" else read(Path(args.file))
    except UnreadableFile as exc:
        sys.stderr.write(f"{args.file}: {exc}\n")
        return 1
    beside = [Path(args.file).resolve().parent] if args.file != "-" else []
    resolver = resolver_for([source], beside, [Path(p) for p in args.templates])
    workflows, failed = [], False
    for index, document in enumerate(source.documents):
        kind = document.get("kind") if isinstance(document, dict) else None
        if kind != KIND:
            sys.stderr.write(f"{args.file}: document {index + 1}: not a {KIND} (kind {kind!r})\n")
            failed = True
            continue
        metadata = document.get("metadata")
        label = f"{args.file}: {metadata.get('name') if isinstance(metadata, dict) else None}"
        if args.validate:
            report = validate_object(document, resolver)
            sys.stderr.writelines(_problem_line(label, problem) + "\n" for problem in report.problems)
            if not report.ok:
                failed = True
                continue
        try:
            workflows.append(generate(document).workflow)
        except search.InvalidSpec as exc:
            sys.stderr.writelines(f"{label}: {error}\n" for error in exc.errors)
            failed = True
    if workflows:
        sys.stdout.write(_workflows_yaml(workflows, readable=sys.stdout.isatty()))
    return 1 if failed else 0


def _workflows_yaml(workflows: list[dict[str, Any]], *, readable: bool) -> str:
    """The Workflows as YAML; for a terminal, the trials (a JSON list in one parameter) one per line."""
    import yaml

    from argoml.hyperparam.workflow import PARAMETER_ANNOTATION

    if not readable:
        return yaml.safe_dump_all(workflows, sort_keys=False, width=120)

    class Dumper(yaml.SafeDumper):
        pass

    def block(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)

    Dumper.add_representer(str, block)
    for workflow in workflows:
        name = workflow["metadata"]["annotations"][PARAMETER_ANNOTATION]
        for parameter in workflow["spec"]["arguments"]["parameters"]:
            if parameter.get("name") == name:
                trials = json.loads(parameter["value"])
                parameter["value"] = "[\n" + ",\n".join(f"  {json.dumps(t)}" for t in trials) + "\n]\n"
    return yaml.dump_all(workflows, Dumper=Dumper, sort_keys=False, width=120)


def _problem_line(label: str, problem: Problem) -> str:
    """``label: path: message``, the path once: where Argo's message starts with its own locator for the
    same field (``templates.main.steps ...``, ``spec.entrypoint is required``), that is dropped."""
    message = problem.text
    if problem.path:
        locators = (problem.path, problem.path.removeprefix("spec."))
        if message.startswith(locators):
            message = message[max(len(loc) for loc in locators if message.startswith(loc)):].lstrip(": ")
        elif "templates[" in problem.path:
            message = _ARGO_LOCATOR.sub("", message, count=1)
    warning = "warning: " if problem.severity == "warning" else ""
    return f"{label}: {problem.path}: {warning}{message}" if problem.path else f"{label}: {warning}{message}"


_ARGO_LOCATOR = re.compile(r"^templates\.[^\s:]+(?::\s+|\s+)(?=\S)")


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="manifests to check ('-' reads standard input)")
    parser.add_argument("--templates", action="append", default=[], metavar="PATH",
                        help="more WorkflowTemplates for templateRefs: a file, or a directory searched recursively "
                             "(those beside each FILE are always used)")
    parser.add_argument("--argo-version", metavar="X.Y",
                        help="the rules of this Argo version (3.5, 3.6, 3.7, 4.0, 4.1 ...) where they differ; "
                             "default: $ARGO_VERSION, else 3.7's (single and list forms both accepted)")


def _validate(args: argparse.Namespace) -> int:
    """Check Argo resources offline, like ``argo lint``: ``file: path: message`` per problem."""

    from argoml.validation import VALIDATORS, ArgoVersion, validate_object
    from argoml.validation.files import UnreadableFile, parse, read, resolver_for

    try:
        version = ArgoVersion.parse(args.argo_version) if args.argo_version else None
    except ValueError as exc:
        print(f"--argo-version: {exc}")
        return 2
    sources, failed = [], False
    for name in args.files:
        try:
            sources.append(parse("-", sys.stdin.read()) if name == "-" else read(Path(name)))
        except UnreadableFile as exc:
            print(f"{name}: {exc}")
            failed = True
    resolver = resolver_for(sources, [Path(s.name).resolve().parent for s in sources if s.name != "-"],
                            [Path(p) for p in args.templates])
    checked = 0
    for source in sources:
        for document in source.documents:
            if misspelt := _misspelt_kind(document, VALIDATORS):
                print(f"{source.name}: kind: {misspelt}")
                failed = True
        resources = [d for d in source.documents if isinstance(d, dict) and d.get("kind") in VALIDATORS]
        for number, resource in enumerate(resources, start=1):
            checked += 1
            label = f"{source.name}#{number}" if len(resources) > 1 else source.name
            for problem in validate_object(resource, resolver, argo_version=version).problems:
                failed |= problem.severity == "error"
                print(_problem_line(label, problem))
    if not failed:
        print(f"ok: {checked} Argo resource{'s' if checked != 1 else ''} in {len(sources)} "
              f"file{'s' if len(sources) != 1 else ''}, no errors")
    return 1 if failed else 0


def _misspelt_kind(document: object, kinds: Iterable[str]) -> str | None:
    """Why an Argo or argoml document's kind looks like a typo of one ``argoml validate`` checks.

    Other documents are skipped (a directory of manifests holds ConfigMaps, Argo CD and Argo
    Events objects too), so a misspelt ``kind: Workfow`` would otherwise pass unchecked.
    """
    if not isinstance(document, dict) or not isinstance(kind := document.get("kind"), str) or kind in kinds:
        return None
    if not str(document.get("apiVersion", "")).startswith(("argoproj.io/", "argoml.io/")):
        return None
    close = difflib.get_close_matches(kind, list(kinds), n=1, cutoff=0.8)
    return f"unknown kind '{kind}': did you mean {close[0]}?" if close else None


def _results_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="NAME|FILE",
                        help="a HyperparamWorkflow's name (read from the cluster in KUBECONFIG), or a YAML/JSON file "
                             "holding a HyperparamWorkflow with its status or the Workflow it generated ('-': stdin)")
    parser.add_argument("-n", "--namespace", default="default", help="the sweep's namespace (with NAME)")
    parser.add_argument("--metric", help="the objective's metric (default: the sweep's objective)")
    parser.add_argument("--goal", choices=("maximize", "minimize"), help="how to rank (default: the sweep's goal)")


def _results(args: argparse.Namespace) -> int:
    """Print a sweep's trials as a table, best first."""
    from argoml import argo, kube
    from argoml.hyperparam import table, tuning
    from argoml.hyperparam.workflow import HYPERPARAM_WORKFLOWS, KIND
    from argoml.validation.files import UnreadableFile, parse, read

    try:
        if args.source == "-" or Path(args.source).is_file():
            source = parse("-", sys.stdin.read()) if args.source == "-" else read(Path(args.source))
            documents = [d for d in source.documents if isinstance(d, dict)]
        else:
            documents = [kube.get(HYPERPARAM_WORKFLOWS, args.namespace, args.source)]
            status = documents[0].get("status") or {}
            if not status.get("history") and status.get("workflowName"):  # the history was not kept: the nodes
                documents.append(kube.get(argo.WORKFLOWS, args.namespace, status["workflowName"]))
    except UnreadableFile as exc:
        sys.stderr.write(f"{args.source}: {exc}\n")
        return 1
    except kube.ApiError as exc:
        sys.stderr.write(f"{exc.message}\n")
        return 1
    sweep = next((d for d in documents if d.get("kind") == KIND), None)
    given = (sweep or {}).get("spec", {}).get("objective")
    declared: dict[str, Any] = given if isinstance(given, dict) else {}
    metric = args.metric or declared.get("metric")
    objective = tuning.Objective(str(metric), args.goal or declared.get("goal") or "maximize", None,
                                 tuple(declared.get("additionalMetrics") or ())) if metric else None
    workflow = next((d for d in documents if d.get("kind") == argo.WORKFLOWS.kind), None)
    target = sweep if sweep is not None and (sweep.get("status") or {}).get("history") else workflow or sweep
    if target is None:
        sys.stderr.write(f"{args.source}: holds no HyperparamWorkflow or Workflow\n")
        return 1
    try:
        records = table.records_of(target, objective)
    except ValueError as exc:
        sys.stderr.write(f"{args.source}: {exc}\n")
        return 1
    sys.stdout.write(table.render(records, objective))
    return 0


COMMANDS: dict[str, tuple[str, Command]] = {
    "ping": ("send a PingSource-format event to a function", (_ping_arguments, _ping)),
    "expand": ("check a HyperparamWorkflow as the webhook would and print the Workflow it generates",
               (_expand_arguments, _expand)),
    "validate": ("check Argo workflows, templates and cron workflows offline, like argo lint",
                 (_validate_arguments, _validate)),
    "results": ("print a sweep's trials as a table, best first", (_results_arguments, _results)),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="argoml", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, (add_arguments, _)) in COMMANDS.items():
        add_arguments(commands.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    return COMMANDS[args.command][1][1](args)



if __name__ == "__main__":
    sys.exit(main())
