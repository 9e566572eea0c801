"""The ``argoml`` command: offline tools for users and CI pipelines.

Each subcommand is a small function registered in :data:`COMMANDS`; they share the
library code the functions run, so what they print is what the cluster would do.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

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


COMMANDS: dict[str, tuple[str, Command]] = {
    "ping": ("send a PingSource-format event to a function", (_ping_arguments, _ping)),
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
