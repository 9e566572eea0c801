"""The cluster ``make run`` works against: the one in ``KUBECONFIG``, or a local playground.

With a usable kubeconfig (``KUBECONFIG``, else ``~/.kube/config``) whose cluster answers, the
stack uses it. With none, it starts the built-in API emulator as the cluster, with the CRDs
a real installation has (argoml's, Argo's, Knative Serving's), the usual namespaces and one
all-powerful user, and writes ``out/kubeconfig`` so that kubectl, the ``kubernetes`` client
and the TensorBoard page all reach it. A kubeconfig that exists but cannot be used, or whose
cluster does not answer, stops ``make run`` with one message saying which and why: falling
back to a playground then would hide the mistake.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from argoml.dev.emulator import TOKEN, Emulator

KUBECONFIG = Path("out/kubeconfig")
PORT_ENV = "EMULATOR_PORT"
DEFAULT_PORT = 8080
NAMESPACES = ("default", "kube-system", "kube-public", "argoml")
# The user of the kubeconfig's bearer token: the playground's only one, an admin.
USER, ADMINS = "developer", "system:masters"
ADMIN_RESOURCES = (("argoproj.io", "workflows"), ("argoml.io", "hyperparamworkflows"), ("", "pods"))


class ClusterProblem(Exception):
    """The configured cluster cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    emulator: Emulator | None = None  # set when this is the playground


def configured_kubeconfig() -> Path | None:
    """The kubeconfig in effect, checked; None when there is none (or only a previous playground's)."""
    listed = os.environ.get("KUBECONFIG", "")
    candidates = [Path(p).expanduser() for p in listed.split(os.pathsep) if p] or [Path("~/.kube/config").expanduser()]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        if listed:
            raise ClusterProblem(f"KUBECONFIG={listed}: no such file (unset KUBECONFIG to use the local playground)")
        return None
    if path.resolve() == KUBECONFIG.resolve():
        return None  # the playground's own, from an earlier run: start the playground again
    _check(path)
    return path


def _check(path: Path) -> None:
    import yaml
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException
    from urllib3.exceptions import HTTPError

    configuration = client.Configuration()
    try:
        config.load_kube_config(config_file=str(path), client_configuration=configuration)
    except (ConfigException, yaml.YAMLError, ValueError, TypeError, AttributeError, OSError) as exc:
        reason = " ".join(str(exc).split())  # one line, whatever the parser said
        raise ClusterProblem(f"{path} is not a usable kubeconfig: {reason} (fix it, or unset KUBECONFIG to use "
                             "the local playground)") from None
    configuration.retries = False
    try:
        with client.ApiClient(configuration) as api:
            client.VersionApi(api).get_code(_request_timeout=5)
    except (HTTPError, OSError, client.exceptions.ApiException) as exc:
        reason = getattr(exc, "reason", None) or exc.__class__.__name__
        raise ClusterProblem(f"the cluster in {path} ({configuration.host}) does not answer: {reason}") from None


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    """The configured cluster, or a playground emulator for as long as the context lasts."""
    kubeconfig = configured_kubeconfig()
    if kubeconfig is not None:
        yield Cluster(kubeconfig)
        return
    port = _port()
    try:
        emulator = Emulator(port=port, kubeconfig=KUBECONFIG, namespaces=NAMESPACES, crds=True)
        with emulator:
            _admit_the_developer(emulator)
            yield Cluster(KUBECONFIG.resolve(), emulator)
    except OSError as exc:
        raise ClusterProblem(f"cannot serve the playground's API on 127.0.0.1:{port}: {exc.strerror or exc} "
                             f"(set {PORT_ENV} to a free port)") from None


def _port() -> int:
    value = os.environ.get(PORT_ENV) or str(DEFAULT_PORT)
    if not value.isdigit() or not 0 <= int(value) < 65536:
        raise ClusterProblem(f"{PORT_ENV}={value!r}: expected a TCP port number (0: any free one)")
    return int(value)


def _admit_the_developer(emulator: Emulator) -> None:
    emulator.access.tokens[TOKEN] = {"username": USER, "groups": [ADMINS, "system:authenticated"]}
    for group, resource in ADMIN_RESOURCES:
        for verb in ("get", "list", "watch", "create", "update", "patch", "delete"):
            emulator.access.grants.add((f"group:{ADMINS}", verb, group, resource, "*"))
