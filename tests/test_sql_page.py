"""The SQL page: who may use it, how a query runs, and the attacks its rule must survive."""

from __future__ import annotations

import base64
import os
import re
import secrets
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import jwt
import psycopg
import pytest
import sqlalchemy as sa
from documentation import code_blocks, section
from psycopg import sql

from db.engine import DatabaseUnreachable
from webapp.config import ConfigError

ADMIN = "an-admin-token-for-the-sql-page"
SECRET = "a-test-secret-of-at-least-32-bytes!!"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
PROJECT_DIR = Path(__file__).resolve().parent.parent


def _token(role: str) -> dict:
    payload = {"role": role, "exp": int(time.time()) + 60}
    return {"Authorization": "Bearer " + jwt.encode(payload, SECRET, algorithm="HS256")}


def _admin_run(pg_server, database: str | None, *statements: str) -> None:
    """Run statements as the tests' (superuser) login, committed."""
    with psycopg.connect(pg_server.conninfo(database), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture(scope="module")
def login(pg_server, database_url):
    """A login of its own for the SQL page, a member of web_anon and nothing else."""
    name, password = f"pgfront_sql_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    create = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE web_anon").format(
        sql.Identifier(name), sql.Literal(password)
    )
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
        conn.execute(create)
    yield name, password
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def _settings(login, **extra) -> dict:
    name, password = login
    return {
        "SQL_PAGE": "true",
        "SQL_PAGE_USER": name,
        "SQL_PAGE_PASSWORD": password,
        "SQL_PAGE_ROLES": "web_anon",
        "ADMIN_TOKEN": ADMIN,
        "JWT_SECRET": SECRET,
        "DB_ANON_ROLE": "web_anon",
        "HIDDEN": "public.members",
        "PAGE_STATEMENT_TIMEOUT": "1000",
        **extra,
    }


@pytest.fixture(scope="module")
def page(make_app, login):
    """A client of an app with the SQL page on, members hidden."""
    return make_app(keep=True, **_settings(login)).test_client()


def _run(client, query: str, headers=AS_ADMIN, **args):
    """The page's JSON twin for a query."""
    return client.get("/sql", query_string={"q": query, "_format": "json", **args}, headers=headers)


@pytest.fixture
def an_email(engine) -> str:
    """A member's e-mail address: hidden data that must never come back."""
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT email FROM members ORDER BY id LIMIT 1")).scalar_one()


# -- who may use it ------------------------------------------------------------------------


def test_off_by_default(client):
    response = client.get("/sql?q=select+1", headers=AS_ADMIN)
    assert response.status_code == 404 and "SQL page is off" in response.text


def test_anonymous_requests_get_401_naming_nothing(page):
    for path in ("/sql", "/sql.csv", "/sql.json"):
        response = page.get(path, query_string={"q": "select email from members"})
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer, Basic realm=")
        assert "members" not in response.text and "email" not in response.text


def _basic(password: str, user: str = "dba") -> dict:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def test_a_browser_signs_in_with_the_token_as_its_password(page, login):
    """Basic credentials (what a browser asks for after the 401) carry the token."""
    admin = _run(page, "select current_user", headers=_basic(ADMIN))
    assert admin.status_code == 200 and admin.json["rows"] == [[login[0]]]
    jwt_role = _token("web_anon")["Authorization"].removeprefix("Bearer ")
    as_role = _run(page, "select current_user", headers=_basic(jwt_role, user=""))
    assert as_role.json["rows"] == [["web_anon"]]
    typed = {**_basic(ADMIN), "Sec-Fetch-Site": "none"}  # the address bar, a bookmark
    assert _run(page, "select 1", headers=typed).status_code == 200
    assert _run(page, "select 1", headers=_basic("wrong")).status_code == 401
    assert _run(page, "select 1", headers={"Authorization": "Basic %%%"}).status_code == 401


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_a_signed_in_browser_runs_nothing_another_site_starts(page, site):
    """A link or an image on another site would bring the browser's Basic credentials along."""
    headers = {**_basic(ADMIN), "Sec-Fetch-Site": site}
    response = page.get("/sql", query_string={"q": "select email from members"}, headers=headers)
    assert response.status_code == 403 and "another site" in response.text
    assert "email" not in response.text.split("</textarea>")[-1]


def test_tokens_of_other_roles_are_refused(page):
    refused = page.get("/sql?q=select+1", headers=_token("web_user"))
    assert refused.status_code == 403 and "may not use the SQL page" in refused.text
    forged = page.get("/sql?q=select+1", headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401


def test_admin_token_runs_as_the_pages_login(page, login):
    response = _run(page, "select current_user, session_user")
    assert response.status_code == 200
    assert response.json["rows"] == [[login[0], login[0]]]


def test_allowed_jwt_role_runs_as_that_role(page, login):
    response = _run(page, "select current_user, session_user", headers=_token("web_anon"))
    assert response.json["rows"] == [["web_anon", login[0]]]


# -- the page --------------------------------------------------------------------------------


def test_rows_in_the_grid_with_downloads_of_the_same_query(page):
    query = "select title, price from books order by price desc nulls last, title limit 3"
    response = page.get("/sql", query_string={"q": query}, headers=AS_ADMIN)
    assert response.status_code == 200
    html = response.text
    assert '<form method="get" action="/sql">' in html and f">{query}</textarea>" in html
    assert '<table class="grid">' in html and '<th scope="col" class="num">price</th>' in html
    assert "<script" not in html and response.headers["Cache-Control"] == "no-store"
    links = dict(re.findall(r'<a href="(/sql\.(csv|json)\?[^"]+)" download>', html))
    assert set(links.values()) == {"csv", "json"}
    csv_link, json_link = sorted(links, key=links.get)
    csv = page.get(csv_link.replace("&amp;", "&"), headers=AS_ADMIN)
    assert csv.mimetype == "text/csv" and "attachment" in csv.headers["Content-Disposition"]
    lines = csv.text.splitlines()
    assert lines[0] == "title,price" and len(lines) == 4
    rows = page.get(json_link.replace("&amp;", "&"), headers=AS_ADMIN).json
    assert [list(row) for row in rows] == [["title", "price"]] * 3
    for line, row in zip(lines[1:], rows, strict=True):
        assert row["title"] in line and str(row["price"]) in line


def test_csv_download_cells_are_not_formulas(page):
    csv = page.get("/sql.csv?q=select+'=1%2B1'+as+f,+-5+as+n", headers=AS_ADMIN)
    assert csv.text.splitlines() == ["f,n", "'=1+1,-5"]


def test_a_nul_character_is_refused_not_cut(page):
    response = page.get("/sql?q=select%201%00;%20select%20email%20from%20members", headers=AS_ADMIN)
    assert response.status_code == 400 and "NUL" in response.text


def test_a_query_without_rows_keeps_its_columns(page):
    response = _run(page, "select 1 as a, 'x' as b where false")
    assert response.json["columns"] == ["a", "b"] and response.json["rows"] == []


def test_repeated_column_names_stay_apart_in_json(page):
    rows = page.get("/sql.json?q=select+1+as+a,+2+as+a", headers=AS_ADMIN).json
    assert rows == [{"a": 1, "a_2": 2}]


def test_explain_and_explain_analyze_show_the_plan(page):
    plan = _run(page, "select * from books where price > 10", explain="plan").json
    assert plan["columns"] == ["QUERY PLAN"] and "Seq Scan on books" in plan["rows"][0][0]
    analyzed = _run(page, "select count(*) from books", explain="analyze").json
    assert any("actual time" in row[0] for row in analyzed["rows"])
    html = page.get("/sql?q=select+1&explain=plan", headers=AS_ADMIN).text
    assert 'name="explain" value="analyze"' in html and '<td class="plan">' in html
    assert _run(page, "select 1", explain="verbose").status_code == 400


def test_errors_are_the_page_with_postgresqls_message(page):
    response = page.get("/sql?q=selec+1", headers=AS_ADMIN)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "42601" in response.text and "syntax error at or near" in response.text
    assert ">selec 1</textarea>" in response.text  # the form keeps the query
    missing = _run(page, "select * from no_such_table").json["error"]
    assert missing["code"] == "42P01" and "does not exist" in missing["message"]


def test_row_cap_on_the_page_and_in_downloads(page):
    query = "select n from generate_series(1, 100000) as n"
    twin = _run(page, query).json
    assert twin["cut"] and len(twin["rows"]) == 500 and twin["rows"][-1] == [500]
    html = page.get("/sql", query_string={"q": query}, headers=AS_ADMIN).text
    assert "Showing the first 500 rows" in html
    csv = page.get("/sql.csv", query_string={"q": query}, headers=AS_ADMIN)
    assert csv.headers["X-Row-Cap"] == "1000" and len(csv.text.splitlines()) == 1001
    rows = page.get("/sql.json", query_string={"q": query}, headers=AS_ADMIN)
    assert rows.headers["X-Row-Cap"] == "1000" and len(rows.json) == 1000


@pytest.mark.parametrize(
    "query",
    [
        "select pg_sleep(30)",
        "select set_config('statement_timeout', '0', true), pg_sleep(30)",
        "do $$ begin perform set_config('statement_timeout', '0', false); "
        "perform pg_sleep(30); end $$",
    ],
)
def test_long_queries_stop_at_the_page_timeout(page, query):
    response = _run(page, query)
    assert response.status_code == 504 and response.json["error"]["code"] == "57014"


# -- attacks: each is refused, and no hidden data comes back ---------------------------------

ATTACKS = {
    "plain read": ("select * from members", "42501"),
    "whole row": ("select t from members t", "42501"),
    "row_to_json": ("select row_to_json(m) from members m", "42501"),
    "query_to_xml": ("select query_to_xml('select email from members', true, false, '')", "42501"),
    "become the superuser, then read": (
        "select set_config('role', '{superuser}', false), "
        "query_to_xml('select email from members', true, false, '')",
        "42501",
    ),
    "reset role, then read": (
        "select set_config('role', 'none', false), "
        "query_to_xml('select email from members', true, false, '')",
        "42501",
    ),
    "become a role with grants": (
        "select set_config('role', 'web_user', true), "
        "query_to_xml('select email from members', true, false, '')",
        "42501",
    ),
    "session authorization": (
        "select set_config('session_authorization', '{superuser}', false)",
        "42501",
    ),
    "role in a DO block": (
        "do $$ begin perform set_config('role', '{superuser}', false); end $$",
        "42501",
    ),
    "two statements": ("select 1; select email from members", "42601"),
    "two statements behind a comment": (
        'select 1 /* ; */ ; select email from "members" --',
        "42601",
    ),
    "two statements after a quote": ("select ';'; set role {superuser}", "42601"),
    "copy to program": ("copy (select 1) to program 'true'", "42501"),
    "copy to a server file": ("copy (select 1) to '/tmp/pgfront-sql-page'", "42501"),
    "pg_read_file": ("select pg_read_file('/etc/passwd')", "42501"),
    "lo_export": ("select lo_export(1, '/tmp/pgfront-sql-page')", "42501"),
    "terminate the app's connections": (
        "select pg_terminate_backend(pid) from pg_stat_activity where usename = '{superuser}'",
        "42501",
    ),
    "a CTE that writes": ("with x as (delete from books returning 1) select * from x", "25006"),
    "explain analyze of a write": ("explain analyze delete from books", "25006"),
    "read write again": ("select set_config('transaction_read_only', 'off', false)", "25001"),
    "set transaction read write": ("set transaction read write", "25001"),
    "grant a role": ("grant web_user to current_user", "25006"),
    "discard all": ("discard all", "25001"),
    "commit inside a DO block": ("do $$ begin commit; end $$", "2D000"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_is_refused(page, database_url, an_email, attack):
    query, code = ATTACKS[attack]
    response = _run(page, query.format(superuser=database_url.username))
    assert response.json["error"]["code"] == code, response.json["error"]
    assert 400 <= response.status_code < 500 and an_email not in response.text


def test_explain_analyze_of_a_write_writes_nothing(page, engine):
    count = sa.text("SELECT count(*) FROM books")
    with engine.connect() as conn:
        before = conn.execute(count).scalar()
    response = page.get("/sql?q=delete+from+books&explain=analyze", headers=AS_ADMIN)
    assert response.status_code == 405 and "read-only transaction" in response.text
    with engine.connect() as conn:
        assert conn.execute(count).scalar() == before


def test_catalogs_show_hidden_names_but_not_data(page):
    listed = _run(
        page, "select column_name from information_schema.columns where table_name = 'members'"
    ).json
    assert listed["rows"] == []  # lists only what the role may read
    named = _run(
        page, "select attname from pg_attribute where attrelid = 'members'::regclass and attnum > 0"
    ).json
    assert ["email"] in named["rows"]  # PostgreSQL shows every role its catalogs (README)


def test_nothing_a_query_sets_outlives_it(page, login):
    first = _run(
        page,
        "select set_config('search_path', 'pg_catalog', false), "
        "set_config('role', 'web_anon', false), pg_backend_pid()",
    ).json
    assert first["error"] is None
    then = _run(page, "select current_setting('search_path'), current_user, pg_backend_pid()")
    search_path, user, pid = then.json["rows"][0]
    assert search_path == '"$user", public' and user == login[0]
    assert pid != first["rows"][0][2]  # a new connection each time


@pytest.mark.parametrize(
    ("setup", "later", "code"),
    [
        ("prepare peek as select 1", "execute peek", "26000"),
        ("declare peek cursor with hold for select 1", "fetch all from peek", "34000"),
    ],
)
def test_prepared_statements_and_cursors_do_not_outlive_the_query(page, setup, later, code):
    ran = _run(page, setup).json
    assert ran["error"] is None and ran["no_rows"]
    assert _run(page, later).json["error"]["code"] == code


def test_listen_and_a_lifted_timeout_do_not_outlive_the_query(page):
    assert _run(page, "listen sql_page_probe").json["no_rows"]
    assert _run(page, "select * from pg_listening_channels()").json["rows"] == []
    assert _run(page, "set statement_timeout = 0").json["no_rows"]
    assert _run(page, "select pg_sleep(30)").status_code == 504


def test_commit_and_copy_out_get_a_clear_answer(page, login):
    assert _run(page, "commit").json["no_rows"]
    copy = _run(page, "copy (select 1) to stdout")
    assert copy.status_code == 400 and "COPY" in copy.json["error"]["message"]
    assert _run(page, "select current_user").json["rows"] == [[login[0]]]


def test_session_locks_are_released(page, engine):
    assert _run(page, "select pg_advisory_lock(4242)").json["error"] is None
    with engine.connect() as conn:
        conn.execute(sa.text("SET lock_timeout = '10s'"))  # waits for the closed session, at most
        conn.execute(sa.text("SELECT pg_advisory_lock(4242)"))
        conn.execute(sa.text("SELECT pg_advisory_unlock(4242)"))


def test_notifications_are_never_sent(page, pg_server, database_url):
    channel = f"sql_page_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.conninfo(database_url.database), autocommit=True) as listener:
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        sent = _run(page, f"select pg_notify('{channel}', 'from the page')")
        assert sent.json["error"] is None
        _admin_run(pg_server, database_url.database, f"NOTIFY {channel}, 'marker'")
        received = []
        for notice in listener.notifies(timeout=10):
            received.append(notice.payload)
            if notice.payload == "marker":
                break
    assert received == ["marker"]  # delivered in commit order: the page's never committed


# -- the rule at startup ---------------------------------------------------------------------


def test_refuses_to_start_on_a_superuser_login(make_app, engine):
    with engine.connect() as conn:
        if not conn.execute(
            sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        ).scalar():
            pytest.skip("the tests' login is not a superuser")
    with pytest.raises(
        ConfigError, match=r"^SQL_PAGE=true, but the SQL page's login .* is a superuser"
    ):
        make_app(SQL_PAGE="true", ADMIN_TOKEN=ADMIN)


def test_refuses_to_start_when_a_role_it_can_become_reads_something_hidden(make_app, login):
    with pytest.raises(ConfigError, match=r"can read books") as raised:
        make_app(**_settings(login, HIDDEN="public.books.price"))
    assert "\n" not in str(raised.value)


def test_refuses_to_start_when_no_one_may_use_it(make_app, login):
    with pytest.raises(ConfigError, match="no one may use it"):
        make_app(**_settings(login, ADMIN_TOKEN="", JWT_SECRET=""))


def test_refuses_roles_its_login_cannot_become(make_app, login):
    with pytest.raises(ConfigError, match="SQL_PAGE_ROLES names web_user, which"):
        make_app(**_settings(login, SQL_PAGE_ROLES="web_anon,web_user"))


def test_a_wrong_password_stops_the_start(make_app, login):
    with pytest.raises(DatabaseUnreachable, match="password authentication failed"):
        make_app(**_settings(login, SQL_PAGE_PASSWORD="wrong"))


# -- the rule before every query: grants made while the app runs ----------------------------


@pytest.fixture(scope="module")
def vault(pg_server):
    """A database of its own, with a hidden table of secrets and a partitioned hidden table."""
    database = pg_server.create_database(prefix="pgfront_sql_vault").database
    _admin_run(
        pg_server,
        database,
        "CREATE TABLE secrets (id int PRIMARY KEY, code text NOT NULL)",
        "INSERT INTO secrets VALUES (1, 'the-vault-code')",
        "CREATE TABLE ledger (id int NOT NULL, amount int) PARTITION BY LIST (id)",
        "CREATE TABLE ledger_1 PARTITION OF ledger FOR VALUES IN (1)",
        "CREATE TABLE notes (id int PRIMARY KEY, body text)",
        "GRANT SELECT ON notes TO web_anon",
    )
    return database


@pytest.fixture(scope="module")
def vault_page(make_app, pg_server, vault, login):
    url = pg_server.url(vault).render_as_string(hide_password=False)
    settings = _settings(login, HIDDEN="public.secrets,public.ledger")
    app = make_app(keep=True, DATABASE_URL=url, DB_SCHEMAS="public", RELOAD_CHANNEL="", **settings)
    return app.test_client()


BREACHES = {
    "a grant on the table": (
        "GRANT SELECT ON secrets TO web_anon",
        "REVOKE SELECT ON secrets FROM web_anon",
    ),
    "a grant on one column": (
        "GRANT SELECT (id) ON secrets TO web_anon",
        "REVOKE SELECT (id) ON secrets FROM web_anon",
    ),
    "a grant to PUBLIC": (
        "GRANT SELECT ON secrets TO PUBLIC",
        "REVOKE SELECT ON secrets FROM PUBLIC",
    ),
    "a view": (
        "CREATE VIEW peek AS SELECT id FROM secrets; GRANT SELECT ON peek TO web_anon",
        "DROP VIEW peek",
    ),
    "a view of a view": (
        "CREATE VIEW peek0 AS SELECT * FROM secrets; CREATE VIEW peek AS SELECT id FROM peek0;"
        " GRANT SELECT ON peek TO web_anon",
        "DROP VIEW peek, peek0",
    ),
    "a materialized view": (
        "CREATE MATERIALIZED VIEW peek AS SELECT count(*) FROM secrets;"
        " GRANT SELECT ON peek TO web_anon",
        "DROP MATERIALIZED VIEW peek",
    ),
    "a security definer function": (
        "CREATE FUNCTION peek() RETURNS SETOF text SECURITY DEFINER LANGUAGE sql"
        " AS 'SELECT code FROM secrets'",
        "DROP FUNCTION peek()",
    ),
    "a partition": (
        "GRANT SELECT ON ledger_1 TO web_anon",
        "REVOKE SELECT ON ledger_1 FROM web_anon",
    ),
    "pg_read_all_data": (
        "GRANT pg_read_all_data TO web_anon",
        "REVOKE pg_read_all_data FROM web_anon",
    ),
    "server files": (
        "GRANT pg_read_server_files TO web_anon",
        "REVOKE pg_read_server_files FROM web_anon",
    ),
    "a server-file function": (
        "GRANT EXECUTE ON FUNCTION pg_read_binary_file(text) TO web_anon",
        "REVOKE EXECUTE ON FUNCTION pg_read_binary_file(text) FROM web_anon",
    ),
}


@pytest.mark.parametrize("breach", list(BREACHES))
def test_a_grant_made_while_running_closes_the_page(vault_page, pg_server, vault, breach):
    grant, revoke = BREACHES[breach]
    assert _run(vault_page, "select body from notes").status_code == 200
    _admin_run(pg_server, vault, grant)
    try:
        refused = _run(vault_page, "select body from notes")
        assert refused.status_code == 403 and "refuses to run queries" in refused.text
        assert "secrets" not in refused.text and "the-vault-code" not in refused.text
    finally:
        _admin_run(pg_server, vault, revoke)
    assert _run(vault_page, "select body from notes").status_code == 200


def test_a_hidden_column_stays_unreadable_beside_granted_ones(make_app, pg_server, vault, login):
    url = pg_server.url(vault).render_as_string(hide_password=False)
    _admin_run(pg_server, vault, "GRANT SELECT (id) ON secrets TO web_anon")
    try:
        settings = _settings(login, HIDDEN="public.secrets.code,public.ledger")
        app = make_app(DATABASE_URL=url, DB_SCHEMAS="public", RELOAD_CHANNEL="", **settings)
        client = app.test_client()
        assert _run(client, "select id from secrets").json["rows"] == [[1]]
        for query in (
            "select code from secrets",
            "select s from secrets s",
            "select row_to_json(s) from secrets s",
        ):
            response = _run(client, query)
            assert response.json["error"]["code"] == "42501"
            assert "the-vault-code" not in response.text
    finally:
        _admin_run(pg_server, vault, "REVOKE SELECT (id) ON secrets FROM web_anon")


# -- the README's steps, as written --------------------------------------------------------


def test_readme_steps_run_a_query(make_app, pg_server, database_url):
    (block,) = code_blocks("sh", section("A query on the SQL page"))
    *commands, serve_line, curl_line = block.splitlines()  # apply-sql, psql -c ...
    settings = dict(word.split("=", 1) for word in serve_line.split() if "=" in word)
    header, url = re.search(r"curl -H '([^']+)' '([^']+)'", curl_line).groups()
    name, value = header.split(": ", 1)
    env = {k: v for k, v in os.environ.items() if k != "DB_SCHEMAS"}
    env["DATABASE_URL"] = database_url.render_as_string(hide_password=False)
    drop = f"DROP ROLE IF EXISTS {settings['SQL_PAGE_USER']}"
    _admin_run(pg_server, None, drop)
    try:
        for line in commands:
            command = [sys.executable, *shlex.split(line)[1:]]  # python run.py ...
            done = subprocess.run(
                command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, done.stderr
        app = make_app(**settings)
        path = url.removeprefix("http://127.0.0.1:8000")
        response = app.test_client().get(path, headers={name: value})
        assert response.status_code == 200, response.text
        lines = response.text.splitlines()
        counts = [int(line.split(",")[1]) for line in lines[1:]]
        assert lines[0] == "genre,count" and counts and counts == sorted(counts, reverse=True)
    finally:
        _admin_run(pg_server, None, drop)


def test_a_hidden_table_renamed_while_running_stays_guarded(make_app, pg_server, vault, login):
    """The guard reads the catalog's HIDDEN, which follows a rename: the new name is guarded."""
    url = pg_server.url(vault).render_as_string(hide_password=False)
    settings = _settings(login, HIDDEN="public.secrets,public.ledger")
    client = make_app(DATABASE_URL=url, DB_SCHEMAS="public", RELOAD_CHANNEL="", **settings)
    client = client.test_client()
    _admin_run(pg_server, vault, "ALTER TABLE secrets RENAME TO vault_codes")
    try:
        assert client.post("/admin/reload", headers=AS_ADMIN).status_code == 200
        _admin_run(pg_server, vault, "GRANT SELECT ON vault_codes TO web_anon")
        refused = _run(client, "select code from vault_codes")
        assert refused.status_code == 403 and "the-vault-code" not in refused.text
    finally:
        _admin_run(
            pg_server,
            vault,
            "REVOKE SELECT ON vault_codes FROM web_anon",
            "ALTER TABLE vault_codes RENAME TO secrets",
        )


def test_the_sql_page_twin_by_query_string_or_accept(page):
    html = page.get("/sql", query_string={"q": "select 1 as one"}, headers=AS_ADMIN)
    assert html.mimetype == "text/html" and "Accept" in html.headers["Vary"]
    by_query = _run(page, "select 1 as one")
    by_accept = page.get(
        "/sql",
        query_string={"q": "select 1 as one"},
        headers={**AS_ADMIN, "Accept": "application/json"},
    )
    for twin in (by_query, by_accept):
        assert twin.mimetype == "application/json" and "Accept" in twin.headers["Vary"]
        assert twin.json["columns"] == ["one"] and twin.json["rows"] == [[1]]
