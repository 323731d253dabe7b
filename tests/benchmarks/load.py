"""Load generation with wrk: installing it when absent, running it, reading its report."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent / "lua"
WRK_THREADS = 2
CONNECTIONS = 16
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


class WrkMissing(Exception):
    """wrk is not installed and could not be installed."""


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package with apt-get (via sudo unless root)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0:
        as_root = []
    elif shutil.which("sudo"):
        as_root = ["sudo"]
    else:
        raise WrkMissing("wrk is not installed and there is no sudo: apt-get install wrk")
    if not shutil.which("apt-get"):
        raise WrkMissing("wrk is not installed and there is no apt-get: install wrk yourself")
    print("installing wrk with apt-get ...", flush=True)
    install = [*as_root, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q"]
    if subprocess.run([*install, "wrk"], capture_output=True, check=False).returncode != 0:
        subprocess.run([*as_root, "apt-get", "update", "-q"], capture_output=True, check=False)
        subprocess.run([*install, "wrk"], capture_output=True, check=False)
    found = shutil.which("wrk")
    if not found:
        raise WrkMissing("apt-get could not install wrk: install it yourself")
    return found


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    foreign_cores: float = 0.0  # cores other processes kept busy meanwhile (cpu.ForeignCpu)
    server_cpu_us: float = 0.0  # the server process's CPU time per request (cpu.TreeCpu)
    postgres_cpu_us: float = 0.0  # PostgreSQL's (every backend's) CPU time per request

    @property
    def failed(self) -> int:
        """Responses that were not 2xx/3xx, plus connect/read/write/timeout errors."""
        return self.non_2xx + self.socket_errors


def wrk_command(
    url: str, duration: float, script: str | None = None, script_args: tuple[str, ...] = ()
) -> list[str]:
    """The wrk command line: 2 threads, 16 connections, latency distribution."""
    argv = [
        ensure_wrk(),
        f"-t{WRK_THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "--latency",
    ]
    if script:
        argv += ["-s", str(LUA_DIR / script)]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]
    return argv


def run_wrk(
    url: str, duration: float, script: str | None = None, script_args: tuple[str, ...] = ()
) -> WrkResult:
    """Run wrk against url for duration seconds and parse its report."""
    argv = wrk_command(url, duration, script, script_args)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
    return parse_wrk(done.stdout)


def parse_wrk(text: str) -> WrkResult:
    """Requests/s, p50, p99, and failures from wrk --latency output."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)\b", text, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\b", text, re.M)
    total = re.search(r"^\s+(\d+) requests in", text, re.M)
    if not (rate and p50 and p99 and total):
        raise RuntimeError(f"cannot read wrk's report:\n{text}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    return WrkResult(
        requests_per_s=float(rate[1]),
        p50_ms=float(p50[1]) * _UNITS_MS[p50[2]],
        p99_ms=float(p99[1]) * _UNITS_MS[p99[2]],
        requests=int(total[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )
