"""Who a request runs as, like PostgREST: the anonymous role, or the role of a verified JWT.

Each request's transaction starts with `set_config('role', <role>, true)` (SET LOCAL ROLE)
and `set_config('request.jwt.claims', <claims>, true)`, both bound parameters, so the
grants and row-level security the DBAs wrote in sql/ decide what it may see and change.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import sqlalchemy as sa
from flask import Flask, g, has_app_context, request
from sqlalchemy import orm

from .config import ConfigError, Settings
from .errors import ApiError

_SET_ROLE = sa.text(
    "SELECT set_config('role', :role, true), set_config('request.jwt.claims', :claims, true)"
)


def install(app: Flask, settings: Settings) -> None:
    """Identify every request before its first query; switch role when its transaction begins."""

    @app.before_request
    def _identify() -> None:
        if request.blueprint in ("admin", "sql_page"):  # they check their own bearer token
            g.db_role, g.jwt_claims = None, None
            return
        g.db_role, g.jwt_claims = identify(request.headers.get("Authorization"), settings)

    if not sa.event.contains(orm.Session, "after_begin", _set_role):
        sa.event.listen(orm.Session, "after_begin", _set_role)


def check_keys(settings: Settings) -> None:
    """Fail at startup (one line) when JWT_PUBLIC_KEY is not a usable RSA public key."""
    if not settings.jwt_public_key:
        return
    try:
        key = _keys(settings, None)["RS256"]
        jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).prepare_key(key)
    except (jwt.PyJWTError, ValueError, ApiError):
        raise ConfigError(
            "JWT_PUBLIC_KEY=(hidden) is not an RSA public key in PEM or JWKS form"
        ) from None


def identify(authorization: str | None, settings: Settings) -> tuple[str | None, dict | None]:
    """(role, claims) for a request: the JWT's, else the anonymous role; 401 for a bad token."""
    if not authorization:
        return settings.anon_role, None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be: Bearer <token>")
    claims = verify(token.strip(), settings)
    role = claims.get(settings.jwt_role_claim) or settings.anon_role
    if not isinstance(role, str):
        raise _unauthorized(f"the {settings.jwt_role_claim!r} claim must be a role name")
    return role, claims


def verify(token: str, settings: Settings) -> dict[str, Any]:
    """The claims of a token signed with our HS256 secret or RS256 key; exp and nbf checked."""
    try:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        keys = _keys(settings, header.get("kid"))
        if not keys:
            raise _unauthorized("this server accepts no tokens (no JWT_SECRET or JWT_PUBLIC_KEY)")
        if algorithm not in keys:
            raise _unauthorized(f"tokens signed with {algorithm} are not accepted")
        return jwt.decode(
            token,
            keys[algorithm],
            algorithms=[algorithm],
            audience=settings.jwt_audience,
            options={"verify_aud": settings.jwt_audience is not None},
            leeway=5,
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise _unauthorized("the token is not valid yet (nbf)") from None
    except jwt.PyJWTError as exc:
        raise _unauthorized(f"the token is not valid: {exc}") from None


def _keys(settings: Settings, kid: str | None) -> dict[str, Any]:
    """Algorithm -> key: HS256 from JWT_SECRET; RS256 from a PEM key or a JWKS document."""
    keys: dict[str, Any] = {}
    if settings.jwt_secret:
        keys["HS256"] = settings.jwt_secret
    public = settings.jwt_public_key
    if public and public.lstrip().startswith("{"):
        key_set = jwt.PyJWKSet.from_json(public)
        matching = [k for k in key_set.keys if kid is None or k.key_id == kid]
        if not matching:
            raise _unauthorized(f"no key in the JWKS has kid {kid!r}")
        keys["RS256"] = matching[0].key
    elif public:
        keys["RS256"] = public
    return keys


def make_token(settings: Settings, role: str, claims: dict[str, Any], expires_in: int) -> str:
    """A development token signed with JWT_SECRET (refused when none is configured)."""
    if not settings.jwt_secret:
        raise ValueError("JWT_SECRET is not set: tokens can only be made with a configured secret")
    now = int(time.time())
    payload = {**claims, settings.jwt_role_claim: role, "iat": now, "exp": now + expires_in}
    if settings.jwt_audience:
        payload["aud"] = settings.jwt_audience
    return jwt.encode(payload, settings.jwt_secret, algorithm="HS256")


def _set_role(session: orm.Session, transaction, connection: sa.Connection) -> None:
    """At the start of a request's transaction: SET LOCAL ROLE and the claims, in one statement."""
    if not has_app_context():
        return
    role = g.get("db_role")
    if role is None:
        return
    claims = g.get("jwt_claims")
    connection.execute(_SET_ROLE, {"role": role, "claims": json.dumps(claims) if claims else ""})


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, code="PGRST301", headers={"WWW-Authenticate": "Bearer"})
