"""Start the four functions as local processes, each served by functions-framework.

Used by ``make run`` (against the cluster in ``KUBECONFIG``), by ``make demo`` (against
the emulator), by the end-to-end tests and by the cold-start benchmark.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FunctionProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command(source: Path, port: int) -> list[str]:
    """functions-framework serving ``source``'s ``handle`` on a loopback port, run by this very interpreter
    (``-m``): a console script may carry another environment's interpreter (a copied virtualenv), whose
    packages would then be the function's."""
    return [sys.executable, "-m", "functions_framework", "--source", str(source), "--target", "handle",
            "--host", "127.0.0.1", "--port", str(port)]


def start(name: str, *, env: dict[str, str] | None = None, port: int | None = None,
          log_file: Path | None = None, root: Path = ROOT) -> FunctionProcess:
    """Start one function and return once its ``/healthz`` answers."""
    port = port or free_port()
    output = log_file.open("ab") if log_file else subprocess.DEVNULL
    process = subprocess.Popen(serve_command(root / "functions" / name / "main.py", port),
                               env={**os.environ, **(env or {})}, stdout=output, stderr=subprocess.STDOUT)
    function = FunctionProcess(name, port, process)
    try:
        wait_healthy(function.url + "/healthz", process)
    except BaseException:
        function.stop()
        raise
    return function


def wait_healthy(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 60.0) -> float:
    """Poll ``url`` until it answers 200; returns the seconds it took."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.01)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
