"""The scoped Session: one unit of work per scope (an app context, a job block, else a thread).

The scope is deliberate. A web request gets the session of its app context, so a
nested app context (a view that pushes one, a CLI command inside a request) gets a
session of its own and its teardown cannot close the request's. Each scope carries
the options its sessions are made with (the engine to bind), so several apps, or
several databases, never share a global bind. Scripts and background jobs use
`session_scope(bind=engine)`, which opens a scope of their own and always closes it.
Code outside any scope gets an unbound session per thread and must not rely on it.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import Any

from sqlalchemy import orm


class _Scope:
    """An active scope: an identity for the registry and the options of its session."""

    __slots__ = ("options",)

    def __init__(self, options: Mapping[str, Any]):
        self.options = MappingProxyType(dict(options))


_scope: ContextVar[_Scope | None] = ContextVar("db_session_scope", default=None)


def _scope_key() -> Hashable:
    """The key of the active scope, or of the current thread when none is active."""
    scope = _scope.get()
    return scope if scope is not None else ("thread", threading.get_ident())


def _new_session(**overrides: Any) -> orm.Session:
    """Make the session of the active scope, with that scope's options (and any overrides)."""
    scope = _scope.get()
    return orm.Session(**{**(scope.options if scope is not None else {}), **overrides})


Session: orm.scoped_session[orm.Session] = orm.scoped_session(_new_session, scopefunc=_scope_key)  # type: ignore[arg-type]


def enter_scope(**session_options: Any) -> Token:
    """Start a new scope; its session is made on first use with these options (bind=...)."""
    return _scope.set(_Scope(session_options))


def leave_scope(token: Token) -> None:
    """Close the current scope's session (returning its connection) and restore the outer scope."""
    try:
        Session.remove()
    finally:
        _scope.reset(token)


@contextmanager
def session_scope(**session_options: Any) -> Iterator[orm.Session]:
    """A session of its own for a script, job or thread; closed (rolled back if not committed) at the end.

    with session_scope(bind=engine) as session:
        session.execute(...)
        session.commit()
    """
    token = enter_scope(**session_options)
    try:
        yield Session()
    finally:
        leave_scope(token)
