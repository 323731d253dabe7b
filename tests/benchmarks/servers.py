"""The servers under test, each a subprocess on a free port, stopped by its PID."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
THREADS = 8
# pgfront's settings in the benchmark; everything else keeps its default.
PGFRONT_SETTINGS = {"RELOAD_CHANNEL": "", "LOG_LEVEL": "WARNING"}
# The variables of ours a server must not inherit from the caller's environment.
_OWN_VARIABLES = ("DATABASE_URL", "DB_SCHEMAS", "ADMIN_TOKEN", "PORT", "THREADS", "HOST")


@dataclass
class Server:
    """One running server process: its name, base URL and log."""

    name: str
    process: subprocess.Popen
    base_url: str
    log_path: Path

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def memory_kb(self, field: str = "VmRSS") -> int:
        """A memory figure of the process from /proc (VmRSS now, VmHWM its peak), in kB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise RuntimeError(f"{field} not in /proc/{self.pid}/status")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not ended within 15 s."""
        if self.process.poll() is not None:
            return
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait()


def start(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Server:
    """Start argv in the project folder and wait for its "Serving on http://..." line."""
    log_path = log_dir / f"{name}.log"
    base_env = {k: v for k, v in os.environ.items() if k not in _OWN_VARIABLES}
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            argv,
            cwd=PROJECT_DIR,
            env={**base_env, **env},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the suite, which stops servers in order
        )
    server = Server(name, process, "", log_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r"Serving on (http://[\d.]+:\d+)/", log_path.read_text())
        if found:
            server.base_url = found[1]
            return server
        if process.poll() is not None:
            break
        time.sleep(0.1)
    server.stop()
    tail = "\n".join(log_path.read_text().splitlines()[-20:])
    raise RuntimeError(f"{name} did not start:\n{tail}")


def start_pgfront(
    database_url: str, schemas: str, log_dir: Path, name: str = "pgfront", **settings: str
) -> Server:
    """`python run.py` on database_url, with the benchmark's settings."""
    env = {"DATABASE_URL": database_url, "DB_SCHEMAS": schemas, **PGFRONT_SETTINGS, **settings}
    argv = [sys.executable, "run.py", "--port", "0", "--threads", str(THREADS)]
    return start(name, argv, env, log_dir)


def start_peer(name: str, module: str, conninfo: str, log_dir: Path) -> Server:
    """One of the peer apps (tests.benchmarks.peers.<module>) on conninfo."""
    argv = [sys.executable, "-m", f"tests.benchmarks.peers.{module}", "--threads", str(THREADS)]
    return start(name, argv, {"DATABASE_URL": conninfo}, log_dir)
