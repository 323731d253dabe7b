"""Roles like PostgREST: anonymous role, JWT roles, claims for row-level security."""

import json
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

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
    payload = {"role": "web_user", "exp": int(time.time()) + 60, **claims}
    return {"Authorization": "Bearer " + jwt.encode(payload, key, algorithm=algorithm)}


def test_anonymous_reads_what_web_anon_may(secured):
    assert secured.get("/api/books?limit=1").status_code == 200
    members = secured.get("/api/members?limit=1")
    assert members.status_code == 401 and members.json["code"] == "42501"
    assert members.headers["WWW-Authenticate"] == "Bearer"
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
    from webapp.config import ConfigError

    with pytest.raises(ConfigError, match="JWT_PUBLIC_KEY"):
        make_app(JWT_PUBLIC_KEY=key)
