"""Garbage collection of the pods finished Argo workflows leave behind, by a policy per PingSource.

:mod:`~argoml.gc.policy` reads the policy (environment defaults, event overrides),
:mod:`~argoml.gc.selection` and :mod:`~argoml.gc.tensorboards` decide what may go,
:mod:`~argoml.gc.collector` lists, deletes and summarises, through the paced,
paginated requests of :mod:`~argoml.gc.api`; :mod:`~argoml.gc.senders` says which event
senders are accepted. :func:`run` is what the function calls.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from argoml.events import PingEvent
from argoml.gc.collector import Summary, collect
from argoml.gc.policy import Policy, parse_policy

__all__ = ["Policy", "Summary", "collect", "parse_policy", "run"]

log = logging.getLogger("argoml.gc")


def run(event: PingEvent, env: Mapping[str, str]) -> dict[str, Any]:
    """Apply the policy ``event`` carries (over the defaults in ``env``); the summary, also logged."""
    policy = parse_policy(event.data, env)
    summary = {"event": event.id, "source": event.source, **collect(policy).to_json()}
    log.info("gc %s", json.dumps(summary, separators=(",", ":")))
    return summary
