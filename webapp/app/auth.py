"""Who a request runs as, like PostgREST: the anonymous role, or the role of a verified JWT.

Each request's transaction starts with `set_config('role', <role>, true)` (SET LOCAL ROLE)
and `set_config('request.jwt.claims', <claims>, true)`, both bound parameters, so the
grants and row-level security the DBAs wrote in sql/ decide what it may see and change.
A token's role is switched to only if it is none of the roles db/roles.py refuses (403).
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import jwt
import sqlalchemy as sa
from flask import Flask, g, has_app_context, has_request_context, request
from sqlalchemy import orm

from db.roles import RequestContext, switch_role

from ..config import ConfigError, Settings
from ..databases import api_root
from ..errors import ApiError

# Registered claims that PyJWT checks by int(value), which lets "123" and true through.
_TIME_CLAIMS = ("exp", "nbf", "iat")


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
    token = bearer_token(authorization)
    if token is None:
        raise _unauthorized("the Authorization header must be: Bearer <token>")
    claims = verify(token, settings)
    role = claims.get(settings.jwt_role_claim) or settings.anon_role
    if not isinstance(role, str):
        raise _claims_refused(f"the {settings.jwt_role_claim!r} claim must be a role name")
    return role, claims


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for any other header."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":  # the scheme is case-insensitive (RFC 9110)
        return None
    return token.strip() or None


def verify(token: str, settings: Settings) -> dict[str, Any]:
    """The claims of a token signed with our HS256 secret or RS256 key; exp and nbf checked."""
    try:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        keys = _keys(settings, header.get("kid"))
        if not keys:
            raise ApiError(  # PostgREST's PGRST300: the server's configuration, not the token
                500,
                "this server accepts no tokens (no JWT_SECRET or JWT_PUBLIC_KEY)",
                code="PGRST300",
                hint="send the request without an Authorization header, or configure a key",
            )
        if algorithm not in keys:
            raise _unauthorized(f"tokens signed with {algorithm} are not accepted")
        claims = jwt.decode(
            token,
            keys[algorithm],
            algorithms=[algorithm],
            audience=settings.jwt_audience,
            options={
                "verify_aud": settings.jwt_audience is not None,
                "require": ["exp"] if settings.jwt_require_exp else [],
            },
            leeway=5,
        )
    except jwt.MissingRequiredClaimError as exc:
        hint = " (JWT_REQUIRE_EXP)" if exc.claim == "exp" else ""
        raise _claims_refused(f"the token has no {exc.claim!r} claim{hint}") from None
    except jwt.ExpiredSignatureError:
        raise _claims_refused("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise _claims_refused("the token is not valid yet (nbf)") from None
    except jwt.InvalidAudienceError:
        raise _claims_refused("the token is not for this audience (aud)") from None
    except jwt.InvalidIssuedAtError:
        raise _claims_refused("the token's 'iat' claim is not a valid time") from None
    except jwt.PyJWTError as exc:
        # PyJWT words a registered claim of the wrong type "... claim (exp) must be ...".
        code = "PGRST303" if "claim (" in str(exc) else "PGRST301"
        raise _unauthorized(f"the token is not valid: {exc}", code) from None
    check_claim_types(claims)
    return claims


def check_claim_types(claims: dict[str, Any]) -> None:
    """401 unless exp, nbf and iat are numbers and aud is a string or a list of strings."""
    for name in _TIME_CLAIMS:
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _claims_refused(f"the token's {name!r} claim must be a number (seconds)")
    audience = claims.get("aud")
    if audience is None or isinstance(audience, str):
        return
    if not isinstance(audience, list) or not all(isinstance(item, str) for item in audience):
        raise _claims_refused("the token's 'aud' claim must be a string or a list of strings")


@functools.cache
def _key_set(document: str) -> jwt.PyJWKSet:
    """A JWKS document's keys, parsed once per document (not once per request)."""
    return jwt.PyJWKSet.from_json(document)


def _keys(settings: Settings, kid: str | None) -> dict[str, Any]:
    """Algorithm -> key: HS256 from JWT_SECRET; RS256 from a PEM key or a JWKS document."""
    keys: dict[str, Any] = {}
    if settings.jwt_secret:
        keys["HS256"] = settings.jwt_secret
    public = settings.jwt_public_key
    if public and public.lstrip().startswith("{"):
        key_set = _key_set(public)
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
    if expires_in <= 0:
        raise ValueError("--expires-in must be a positive number of seconds")
    now = int(time.time())
    payload = {**claims, settings.jwt_role_claim: role, "iat": now, "exp": now + expires_in}
    if settings.jwt_audience:
        payload["aud"] = settings.jwt_audience
    return jwt.encode(payload, settings.jwt_secret, algorithm="HS256")


def _set_role(session: orm.Session, transaction, connection: sa.Connection) -> None:
    """At the start of a request's transaction: SET LOCAL ROLE and the claims, in one statement.

    A token's role is checked in that same statement (the anonymous role was, at startup).
    """
    if not has_app_context():
        return
    role = g.get("db_role")
    rpc = has_request_context() and request.endpoint == "api.call_function"
    if role is None and not rpc:
        # No role to switch to: only a function call pays a statement for the request's
        # settings (a table read would pay a round trip for what its SQL never reads).
        return
    claims = g.get("jwt_claims")
    encoded = json.dumps(claims) if claims else ""
    context = request_context() if has_request_context() else RequestContext()
    if not switch_role(connection, role, encoded, checked=claims is not None, context=context):
        # The transaction still runs as the login role: drop the connection, so that nothing
        # can run on it even if a caller swallowed the error below.
        connection.invalidate()
        raise ApiError(
            403,
            f"the token's role {role!r} may not be used: requests never run as 'none', "
            "the login role, a superuser or a pg_ role",
            code="42501",
            hint="issue tokens for a role that holds only the grants its requests need",
        )


def request_context() -> RequestContext:
    """This request as PostgREST shows it to SQL: the path under the API root, lowercase headers."""
    path, root = request.path, api_root()
    if path.startswith(root + "/"):
        path = path[len(root) :]
    headers = {name.lower(): value for name, value in request.headers.items()}
    return RequestContext(
        method=request.method,
        path=path,
        headers=json.dumps(headers),
        cookies=json.dumps(dict(request.cookies)),
    )


def _unauthorized(message: str, code: str = "PGRST301") -> ApiError:
    """PostgREST's 401 for a token that cannot be verified (PGRST301), with RFC 6750's header."""
    challenge = 'Bearer error="invalid_token", error_description=' + json.dumps(message)
    return ApiError(401, message, code=code, headers={"WWW-Authenticate": challenge})


def _claims_refused(message: str) -> ApiError:
    """PostgREST's 401 for a verified token whose claims are refused (PGRST303)."""
    return _unauthorized(message, code="PGRST303")
