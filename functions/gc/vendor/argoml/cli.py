"""The ``argoml`` command: offline tools for users and CI pipelines.

Each subcommand is a small function registered in :data:`COMMANDS`; they share the
library code the functions run, so what they print is what the cluster would do.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

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
    sys.stdout.write(delivery.body.decode(errors="replace"))
    return 0 if 200 <= delivery.status < 300 else 1


def _expand_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="YAML file with one or more HyperparamWorkflows ('-' for stdin)")


def _expand(args: argparse.Namespace) -> int:
    """Print the Workflow each HyperparamWorkflow in the file would generate."""
    import yaml

    from argoml import hyperparam, manifests, search

    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    workflows, failed = [], False
    for index, document in enumerate(manifests.load_all(text)):
        kind = document.get("kind") if isinstance(document, dict) else None
        if kind != hyperparam.KIND:
            sys.stderr.write(f"{args.file}: document {index + 1}: not a {hyperparam.KIND} (kind {kind!r})\n")
            failed = True
            continue
        try:
            workflows.append(hyperparam.generate(document).workflow)
        except search.InvalidSpec as exc:
            name = (document.get("metadata") or {}).get("name")
            sys.stderr.writelines(f"{args.file}: {name}: {error}\n" for error in exc.errors)
            failed = True
    if workflows:
        sys.stdout.write(yaml.safe_dump_all(workflows, sort_keys=False, width=120))
    return 1 if failed else 0


COMMANDS: dict[str, tuple[str, Command]] = {
    "ping": ("send a PingSource-format event to a function", (_ping_arguments, _ping)),
    "expand": ("print the Workflow a HyperparamWorkflow generates", (_expand_arguments, _expand)),
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
