"""CPU time of processes that are not the suite's: other load that makes a run noisy."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterable
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle, from /proc/stat."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / _TICK  # user..steal; guest time is already in user


def _processes() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds so far) for every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # it ended meanwhile
        fields = text.rsplit(")", 1)[1].split()
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK)
    return table


def _descendants(table: dict[int, tuple[int, float]], roots: Iterable[int]) -> set[int]:
    """The roots and every process below them."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [root for root in roots if root in table]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def _reaped_children_seconds() -> float:
    """CPU seconds of this process's children that have ended (wrk, workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class ForeignCpu:
    """Cores kept busy, on average over an interval, by processes outside the suite's trees.

    The suite's trees: this process (servers, wrk) and the PostgreSQL postmaster given.
    """

    def __init__(self, roots: Iterable[int] = ()):
        self.roots = [os.getpid(), *roots]
        self.available = Path("/proc/stat").exists()

    def start(self) -> None:
        """Begin an interval."""
        if not self.available:
            return
        self._started = time.monotonic()
        self._busy = _machine_busy_seconds()
        self._table = _processes()
        self._reaped = _reaped_children_seconds()

    def stop(self) -> float:
        """Cores used by other processes since start(), on average."""
        if not self.available:
            return 0.0
        elapsed = time.monotonic() - self._started
        busy = _machine_busy_seconds() - self._busy
        table = _processes()
        ours = _descendants(table, self.roots) | _descendants(self._table, self.roots)
        own = _reaped_children_seconds() - self._reaped
        for pid in ours:
            if pid in table:
                own += table[pid][1] - (self._table[pid][1] if pid in self._table else 0.0)
        return max(0.0, busy - own) / elapsed if elapsed > 0 else 0.0


class TreeCpu:
    """CPU seconds used by some process trees (a server, PostgreSQL's backends) over an interval."""

    def __init__(self, roots: Iterable[int]):
        self.roots = list(roots)
        self.available = Path("/proc/stat").exists()

    def _seconds(self) -> float:
        table = _processes()
        return sum(table[pid][1] for pid in _descendants(table, self.roots) if pid in table)

    def start(self) -> None:
        """Begin an interval."""
        self._begun = self._seconds() if self.available else 0.0

    def stop(self) -> float:
        """CPU seconds the trees used since start() (processes that ended meanwhile are lost)."""
        return self._seconds() - self._begun if self.available else 0.0
