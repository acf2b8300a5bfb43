"""Start Todoke services as real child processes on free loopback ports.

Each service is started as ``todoke <part> serve --port 0 --ready-file F`` and is ready when
``F`` appears with its URL. Output goes to a log file beside the ready file, so a failing start
can say why.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class ServiceStartError(RuntimeError):
    pass


def todoke_command() -> list[str]:
    """How to run the ``todoke`` CLI with the interpreter we run on."""
    return [sys.executable, "-m", "todoke"]


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    _log_handle: object = field(repr=False, default=None)

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> int:
        """Stop the process (SIGTERM, or SIGKILL with ``kill``); return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        handle = self._log_handle
        if handle is not None and hasattr(handle, "close"):
            handle.close()
        return self.process.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""


def run_cli(
    args: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run one ``todoke`` command to completion; raise with its output if it fails."""
    result = subprocess.run(
        [*todoke_command(), *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise ServiceStartError(
            f"todoke {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def start_service(
    name: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    workdir: Path,
    timeout: float = 60.0,
) -> Service:
    """Start ``todoke <args> --port 0 --ready-file …`` and wait until it listens."""
    ready = workdir / f"{name}.ready.json"
    ready.unlink(missing_ok=True)
    log_path = workdir / f"{name}.log"
    log = open(log_path, "ab")  # closed by Service.stop
    process = subprocess.Popen(
        [*todoke_command(), *args, "--port", "0", "--ready-file", str(ready)],
        env={**os.environ, **env},
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    service = Service(name=name, process=process, url="", log_path=log_path, _log_handle=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            service.stop()
            raise ServiceStartError(
                f"{name} exited with {process.returncode}:\n{service.log_tail()}"
            )
        if ready.exists():
            service.url = json.loads(ready.read_text("utf-8"))["url"]
            return service
        time.sleep(0.05)
    service.stop(kill=True)
    raise ServiceStartError(f"{name} did not start within {timeout:.0f}s:\n{service.log_tail()}")
