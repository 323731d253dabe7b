"""Switching a transaction to a request's role, and checking that the login role can.

The app connects as a login role (PostgREST's "authenticator") and runs each request's
transaction as another role: `set_config('role', <role>, true)`, that is SET LOCAL ROLE.
Some roles would give a request more than the grants the DBAs wrote for it, and are never
switched to: 'none' (PostgreSQL's word for "back to the login role"), the login role itself,
a superuser, and PostgreSQL's predefined `pg_` roles. The rule lives in SWITCH_ROLE_CHECKED
alone, so a request, the startup check and /ready cannot disagree about it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .engine import first_line

# What PostgREST tells SQL of the request (functions and policies read them with
# current_setting('request.headers', true) and so on), set in the same statement.
_REQUEST = (
    ", set_config('request.method', :method, true), set_config('request.path', :path, true)"
    ", set_config('request.headers', :headers, true)"
    ", set_config('request.cookies', :cookies, true)"
)

# For the anonymous role, which was checked at startup: one plain statement per transaction.
SWITCH_ROLE = sa.text(
    "SELECT set_config('role', :role, true), set_config('request.jwt.claims', :claims, true)"
    + _REQUEST
)

# Without a role to switch to (no DB_ANON_ROLE): the request's settings alone.
REQUEST_SETTINGS = sa.text("SELECT set_config('request.jwt.claims', :claims, true)" + _REQUEST)

# For a role a token names. No row comes back, and nothing is set, when the role is refused;
# a role that does not exist still reaches set_config, whose error says so.
SWITCH_ROLE_CHECKED = sa.text(
    "SELECT set_config('role', :role, true), set_config('request.jwt.claims', :claims, true)"
    ", set_config('request.method', :method, true), set_config('request.path', :path, true)"
    ", set_config('request.headers', :headers, true)"
    ", set_config('request.cookies', :cookies, true)"
    " WHERE CAST(:role AS text) <> 'none' AND CAST(:role AS text) NOT LIKE 'pg\\_%'"
    " AND NOT EXISTS (SELECT FROM pg_roles"
    " WHERE rolname = :role AND (rolsuper OR rolname = session_user))"
)

REFUSED = "requests may not run as it (it is 'none', the login role, a superuser or a pg_ role)"

_LOGIN = sa.text("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
_UNDEFINED_ROLE, _NOT_A_MEMBER = "22023", "42501"  # set_config's SQLSTATEs for the two cases


@dataclass(frozen=True)
class RequestContext:
    """The request as SQL sees it: method, path (under the API root), headers and cookies as JSON."""

    method: str = ""
    path: str = ""
    headers: str = ""
    cookies: str = ""


def switch_role(
    connection: Connection,
    role: str | None,
    claims: str,
    *,
    checked: bool,
    context: RequestContext = RequestContext(),
) -> bool:
    """SET LOCAL ROLE, the claims and the request's settings; False (nothing set) for a refused role.

    role None sets only the claims and the request's settings.
    """
    params = {"role": role, "claims": claims, **asdict(context)}
    if role is None:
        params.pop("role")
        return connection.execute(REQUEST_SETTINGS, params).first() is not None
    statement = SWITCH_ROLE_CHECKED if checked else SWITCH_ROLE
    return connection.execute(statement, params).first() is not None


@dataclass(frozen=True)
class RoleCheck:
    """Whether the login role may switch to a role, and what to do when it may not."""

    login: str
    login_is_superuser: bool
    role: str | None
    problem: str | None = None  # PostgreSQL's words, or REFUSED
    fix: str | None = None

    def describe(self) -> str | None:
        """One line: what is wrong and how to fix it; None when the switch works."""
        if self.problem is None:
            return None
        if self.problem == REFUSED:
            return f"{REFUSED}: name a role that holds only the grants anonymous requests need"
        return (
            f"the login role {self.login} cannot switch to {self.role} ({self.problem}): {self.fix}"
        )


def check_role(engine: Engine, role: str | None) -> RoleCheck:
    """Who the engine logs in as, and whether it may switch to role (tried, then rolled back)."""
    with engine.connect() as conn:
        login, superuser = conn.execute(_LOGIN).one()
        if role is None:
            return RoleCheck(login, superuser, None)
        try:
            switched = switch_role(conn, role, "", checked=True)
        except sa.exc.DBAPIError as exc:
            state = getattr(exc.orig, "sqlstate", None)
            if state not in (_UNDEFINED_ROLE, _NOT_A_MEMBER):
                raise
            fix = f"GRANT {role} TO {login}"
            if state == _UNDEFINED_ROLE:
                fix = f"create it (CREATE ROLE {role} NOLOGIN), then {fix}"
            return RoleCheck(login, superuser, role, first_line(exc.orig), fix)
        finally:
            conn.rollback()  # the trial leaves nothing behind
    return RoleCheck(login, superuser, role, None if switched else REFUSED)
