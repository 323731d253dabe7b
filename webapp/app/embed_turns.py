"""Turns to hold many embedded rows (EMBED_CONCURRENCY), and the memory they free after.

A read whose embeds hold many rows takes one of EMBED_CONCURRENCY turns first (waiting at
most until the request deadline), so only that many such reads build big responses at once.
When the request ends its turn goes to the next, and the C heap's free pages go back to the
system: glibc keeps them otherwise, and the process would stay at its peak size.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache

from flask import g

from ..errors import RequestTimeout
from ..state import app_state
from .deadline import current_deadline


def wait_for_embed_turn() -> None:
    """Take one of EMBED_CONCURRENCY turns to hold many embedded rows, within the deadline."""
    turns = app_state().embed_turns
    deadline = current_deadline()
    if not turns.acquire(timeout=None if deadline is None else max(deadline.left_ms(), 0) / 1000):
        raise RequestTimeout(deadline.timeout_ms)
    g.embed_turn = turns


def end_embed_turn(exc: BaseException | None) -> None:
    """The request that held a turn ends: the turn goes to the next, freed memory to the system."""
    turn = g.pop("embed_turn", None)
    if turn is not None:
        turn.release()
        return_freed_memory()


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None


def return_freed_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc keeps them otherwise)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
