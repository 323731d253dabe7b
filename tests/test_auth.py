"""Roles like PostgREST: anonymous role, JWT roles, claims for row-level security."""

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from webapp import create_app
from webapp.config import ConfigError, load_settings

SECRET = "a-test-secret-of-at-least-32-bytes!!"
PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def secured(make_app, rsa_key):
    public = (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return make_app(
        keep=True, DB_ANON_ROLE="web_anon", JWT_SECRET=SECRET, JWT_PUBLIC_KEY=public
    ).test_client()


def _token(key=SECRET, algorithm="HS256", **claims):
    payload = {"role": "web_user", "exp": int(time.time()) + 3600, **claims}
    return {"Authorization": "Bearer " + jwt.encode(payload, key, algorithm=algorithm)}


def test_anonymous_reads_what_web_anon_may(secured):
    assert secured.get("/api/books?limit=1").status_code == 200
    members = secured.get("/api/members?limit=1")
    assert members.status_code == 401 and members.json["code"] == "42501"
    assert members.headers["WWW-Authenticate"] == "Bearer"
    assert "web_anon (DB_ANON_ROLE)" in members.json["hint"]  # what to do about it
    page = secured.get("/browse/public/members")
    assert page.status_code == 401 and b"Authorization: Bearer" in page.data
    write = secured.post("/api/branches", json={"name": "x", "city": "y"})
    assert write.status_code == 401


def test_user_sees_only_own_rows(secured):
    own = secured.get("/api/members?select=id", headers=_token(member_id=5))
    assert own.status_code == 200 and own.json == [{"id": 5}]
    loans = secured.get("/api/loans?select=member_id", headers=_token(member_id=5))
    assert loans.json and {row["member_id"] for row in loans.json} == {5}
    refused = secured.post("/api/branches", json={"name": "x", "city": "y"}, headers=_token())
    assert refused.status_code == 403 and refused.json["code"] == "42501"


def test_rs256_tokens(secured, rsa_key):
    response = secured.get("/api/members?select=id", headers=_token(rsa_key, "RS256", member_id=7))
    assert response.json == [{"id": 7}]


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        (_token(exp=int(time.time()) - 60), "expired"),
        (_token(nbf=int(time.time()) + 600), "not valid yet"),
        (_token(key="another-secret-of-at-least-32-bytes!!"), "not valid"),
        (_token(role=5), "must be a role name"),
        ({"Authorization": "Bearer not.a.token"}, "not valid"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, "Bearer <token>"),
        (
            {
                "Authorization": "Bearer "
                + jwt.encode({"role": "web_user"}, "k" * 48, algorithm="HS384")
            },
            "HS384",
        ),
    ],
)
def test_bad_tokens_are_401(secured, headers, fragment):
    response = secured.get("/api/books?limit=1", headers=headers)
    assert response.status_code == 401
    assert fragment in response.json["message"]


def test_token_command(make_app):
    def run(*args, **env):
        return subprocess.run(
            [sys.executable, "run.py", "token", *args],
            cwd=PROJECT_DIR,
            env={"PATH": "", **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    made = run("--role", "web_user", "--claim", "member_id=5", JWT_SECRET=SECRET)
    assert made.returncode == 0, made.stderr
    claims = jwt.decode(made.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["role"] == "web_user" and claims["member_id"] == 5
    assert time.time() < claims["exp"] <= time.time() + 3600
    forever = run("--role", "web_user", "--expires-in", "0", JWT_SECRET=SECRET)
    assert forever.returncode == 2
    assert forever.stderr == "error: --expires-in must be a positive number of seconds\n"
    refused = run("--role", "web_user")
    assert refused.returncode == 2
    assert (
        refused.stderr
        == "error: JWT_SECRET is not set: tokens can only be made with a configured secret\n"
    )


def test_jwks_document(make_app, rsa_key):
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwks = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]})
    client = make_app(DB_ANON_ROLE="web_anon", JWT_PUBLIC_KEY=jwks).test_client()
    token = jwt.encode(
        {"role": "web_user", "member_id": 9, "exp": int(time.time()) + 60},
        rsa_key,
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    ok = client.get("/api/members?select=id", headers={"Authorization": f"Bearer {token}"})
    assert ok.json == [{"id": 9}]
    other = jwt.encode({"role": "web_user"}, rsa_key, algorithm="RS256", headers={"kid": "k2"})
    refused = client.get("/api/books?limit=1", headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code == 401 and "kid" in refused.json["message"]


@pytest.mark.parametrize("key", ["not a key", '{"keys": []}', '{"keys": [{"kty": "RSA"}]}'])
def test_bad_public_key_fails_at_startup(make_app, key):
    with pytest.raises(ConfigError, match="JWT_PUBLIC_KEY"):
        make_app(JWT_PUBLIC_KEY=key)


# -- which roles a request may run as ---------------------------------------------------------


@pytest.fixture(scope="module")
def extra_superuser(pg_server):
    """A superuser role other than the login role (cluster-wide: dropped after the module)."""
    name = f"pgfront_super_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} SUPERUSER NOLOGIN")
    yield name
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
        conn.execute(f"DROP ROLE {name}")


@pytest.mark.parametrize(
    "role", ["none", "postgres", "pg_read_server_files", "pg_execute_server_program", "super"]
)
def test_role_claims_beyond_the_grants_are_refused(secured, extra_superuser, role):
    # secured connects as the superuser postgres: any of these would read every member's row.
    role = extra_superuser if role == "super" else role
    response = secured.get("/api/members?select=id,email", headers=_token(role=role))
    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.json["code"] == "42501"
    assert repr(role) in response.json["message"]
    assert "@" not in response.get_data(as_text=True)  # no member's email came back


def test_a_refused_claim_leaves_the_next_request_alone(secured):
    assert secured.get("/api/members", headers=_token(role="none")).status_code == 403
    own = secured.get("/api/members?select=id", headers=_token(member_id=5))
    assert own.status_code == 200 and own.json == [{"id": 5}]
    assert secured.get("/api/books?limit=1").status_code == 200


def test_the_login_role_itself_is_refused(make_app, authenticator_url):
    client = make_app(
        DATABASE_URL=authenticator_url.render_as_string(hide_password=False),
        DB_ANON_ROLE="web_anon",
        JWT_SECRET=SECRET,
    ).test_client()
    refused = client.get("/api/books?limit=1", headers=_token(role="authenticator"))
    assert refused.status_code == 403 and "'authenticator'" in refused.json["message"]


def test_tokens_must_expire_unless_told_otherwise(secured, make_app):
    lasting = {"Authorization": "Bearer " + jwt.encode({"role": "web_user"}, SECRET)}
    refused = secured.get("/api/books?limit=1", headers=lasting)
    assert refused.status_code == 401 and "exp" in refused.json["message"]
    relaxed = make_app(DB_ANON_ROLE="web_anon", JWT_SECRET=SECRET, JWT_REQUIRE_EXP="false")
    assert relaxed.test_client().get("/api/books?limit=1", headers=lasting).status_code == 200


@pytest.mark.parametrize(
    ("claims", "fragment"),
    [
        ({"exp": str(int(time.time()) + 600)}, "exp"),
        ({"exp": True}, "exp"),
        ({"nbf": "0"}, "nbf"),
        ({"aud": 5}, "aud"),
        ({"aud": ["pgfront", 5]}, "aud"),
        ({"aud": {"name": "pgfront"}}, "aud"),
    ],
)
def test_claims_of_the_wrong_type_are_refused(secured, claims, fragment):
    response = secured.get("/api/books?limit=1", headers=_token(**claims))
    assert response.status_code == 401
    assert fragment in response.json["message"]


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("JWT_SECRET", "x" * 31, "JWT_SECRET=(hidden) must be at least 32 characters long, e.g. "),
        (
            "ADMIN_TOKEN",
            "s3cret",
            "ADMIN_TOKEN=(hidden) must be at least 24 characters long, e.g. ",
        ),
    ],
)
def test_short_secrets_stop_startup(setting, value, message):
    with pytest.raises(ConfigError) as info:
        load_settings({setting: value}, environ={})
    assert str(info.value).startswith(message) and "token_urlsafe" in str(info.value)
    assert value not in str(info.value)
    assert load_settings({setting: "x" * 40}, environ={})  # long enough


# -- DB_ANON_ROLE is checked at startup -------------------------------------------------------


def test_an_anon_role_that_does_not_exist_stops_startup(make_app):
    with pytest.raises(ConfigError) as info:
        make_app(DB_ANON_ROLE="no_such_role")
    message = str(info.value)
    assert message.startswith("DB_ANON_ROLE=no_such_role: ")
    assert 'role "no_such_role" does not exist' in message and "\n" not in message


def test_an_anon_role_the_login_cannot_switch_to_stops_startup(make_app, login_role):
    login, url = login_role()  # granted nothing
    with pytest.raises(ConfigError) as info:
        make_app(DATABASE_URL=url.render_as_string(hide_password=False), DB_ANON_ROLE="web_anon")
    assert str(info.value) == (
        f"DB_ANON_ROLE=web_anon: the login role {login} cannot switch to web_anon (permission denied "
        f'to set role "web_anon"): GRANT web_anon TO {login}'
    )


def test_a_schema_the_login_cannot_look_into_stops_startup(make_app, login_role):
    login, url = login_role("web_anon")  # NOINHERIT: web_anon's USAGE on reporting is not its own
    with pytest.raises(ConfigError) as info:
        make_app(DATABASE_URL=url.render_as_string(hide_password=False), DB_ANON_ROLE="web_anon")
    assert str(info.value) == (
        f"DB_SCHEMAS: the login role {login} may not look into schemas reporting: "
        f"GRANT USAGE ON SCHEMA reporting TO {login}"
    )


def test_each_database_is_checked(make_app, login_role):
    login, url = login_role()
    with pytest.raises(ConfigError, match=f"DATABASES other: .*GRANT web_anon TO {login}"):
        make_app(
            DB_ANON_ROLE="web_anon",
            DATABASES={"other": url.render_as_string(hide_password=False) + "?schemas=public"},
        )


@pytest.mark.parametrize("role", ["none", "postgres", "pg_read_all_data"])
def test_an_anon_role_beyond_the_grants_stops_startup(make_app, role):
    with pytest.raises(ConfigError, match=f"DB_ANON_ROLE={role}: requests may not run as it"):
        make_app(DB_ANON_ROLE=role)


def test_serving_as_a_superuser_is_warned_about(make_app, caplog):
    make_app()  # the test database's login is the superuser postgres, and no DB_ANON_ROLE
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("superuser" in line and "DB_ANON_ROLE" in line for line in warnings), warnings
    caplog.clear()
    make_app(DB_ANON_ROLE="web_anon")
    assert not [r for r in caplog.records if "superuser" in r.getMessage()]


# -- the sample's roles, for a login role other than the one that applied sql/ ----------------


def test_the_sample_roles_work_for_the_authenticator_login(make_app, authenticator_url, isolate):
    app = make_app(
        DATABASE_URL=authenticator_url.render_as_string(hide_password=False),
        DB_ANON_ROLE="web_anon",
        JWT_SECRET=SECRET,
    )
    isolate(app)
    client = app.test_client()
    assert client.get("/ready").json["status"] == "ready"
    assert client.get("/api/books?limit=1").status_code == 200
    assert client.get("/api/members?limit=1").status_code == 401
    own = client.get("/api/members?select=id", headers=_token(member_id=5))
    assert own.json == [{"id": 5}]
    librarian = _token(role="librarian")
    assert len(client.get("/api/members?select=id&limit=3", headers=librarian).json) == 3
    created = client.post(
        "/api/branches", json={"name": "Seaside", "city": "Portsea"}, headers=librarian
    )
    assert created.status_code == 201
    renamed = client.patch(
        "/api/members?id=eq.5", json={"full_name": "Renamed Member"}, headers=_token(member_id=5)
    )
    assert renamed.status_code == 204


# -- the embedded default ---------------------------------------------------------------------


@pytest.mark.slow
def test_the_embedded_default_serves_through_a_login_that_is_not_a_superuser(tmp_path, monkeypatch):
    for name in ("DATABASE_URL", "DB_SCHEMAS", "DB_ANON_ROLE"):
        monkeypatch.delenv(name, raising=False)
    config = {"DATA_DIR": str(tmp_path / "data"), "RELOAD_CHANNEL": "", "TESTING": True}
    # A data folder from before the login role: sql/ up to 006, which granted the roles to its
    # applier only. The login role is created, and one line says what it lacks.
    older = tmp_path / "sql"
    older.mkdir()
    for path in sorted((PROJECT_DIR / "sql").glob("00[1-6]_*.sql")):
        shutil.copy(path, older)
    with pytest.raises(ConfigError, match="GRANT web_anon TO authenticator"):
        create_app({**config, "SQL_DIR": str(older), "DB_ANON_ROLE": "web_anon"})
    app = create_app({**config, "JWT_SECRET": SECRET})  # today's sql/: its new files apply
    state = app.extensions["pgfront"]
    try:
        assert state.engine.url.username == "authenticator"
        client = app.test_client()
        assert client.get("/ready").json["status"] == "ready"
        assert client.get("/api/books?limit=1").status_code == 200  # as web_anon
        assert client.get("/api/members?limit=1").status_code == 401
        assert client.get("/api/members", headers=_token(role="none")).status_code == 403
        created = client.post(
            "/api/branches",
            json={"name": "Seaside", "city": "Portsea"},
            headers=_token(role="librarian"),
        )
        assert created.status_code == 201
    finally:
        state.close()
        state.embedded.stop()
