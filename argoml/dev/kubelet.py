"""Run a TensorBoard instance's log fetcher here, as the kubelet would run its init container.

There is no kubelet in the emulator: the demo (and the tests) take the init container the
tensorboard function generated, give it the environment the kubelet would (values, and each
``secretKeyRef`` read from the emulated cluster's Secrets), point its log directory (the
``emptyDir`` at ``/logs``) and termination message (``/dev/termination-log``) at local paths,
and run ``python -m argoml.tensorboard.fetch`` as a process.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from argoml.dev.store import Store
from argoml.tensorboard.fetch import CONFIG_ENV, TERMINATION_LOG_ENV

ROOT = Path(__file__).resolve().parents[2]  # what the image has at /app/vendor: the argoml package


def container_env(store: Store, container: Mapping[str, Any], namespace: str) -> dict[str, str]:
    """The environment the kubelet gives ``container``: values, and secretKeyRefs read from the Secrets."""
    secrets = store.type_of("", "v1", "secrets")
    env = {}
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            data = store.get(secrets, namespace, ref["name"])["data"]
            env[item["name"]] = base64.b64decode(data[ref["key"]]).decode()
    return env


def run_fetcher(store: Store, instance: Mapping[str, Any], logdir: Path,
                extra_env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the init container of ``instance`` (a Knative Service) into ``logdir``; its termination
    message lands in ``<logdir>.termination-log``."""
    pod = instance["spec"]["template"]["spec"]
    [init] = pod["initContainers"]
    env = container_env(store, init, instance["metadata"]["namespace"])
    env[CONFIG_ENV] = json.dumps({**json.loads(env[CONFIG_ENV]), "logdir": str(logdir)})
    env[TERMINATION_LOG_ENV] = str(logdir) + ".termination-log"
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra_env or {})
    return subprocess.run([sys.executable, *init["command"][1:]], env={"PATH": os.environ["PATH"], **env},
                          capture_output=True, text=True, timeout=120, check=False)
