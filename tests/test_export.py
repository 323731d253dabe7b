"""Exports: exactly the rows of a table page, encoded as the API encodes them, streamed."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import jwt
import psycopg
import pytest
import sqlalchemy as sa
from flask import url_for

from webapp.pages import export

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Exports are read with buffered=True: the test client then closes the response, as a WSGI
# server does, which is what returns the export's connection.
SECRET = "a-test-secret-of-at-least-32-bytes!!"

# Each read gives between 100 and 1000 rows, so the API (MAX_ROWS=1000) returns all of them.
READS = [
    ("public", "loans", "member_id=lt.30&order=loaned_at.desc"),
    ("public", "books", "author_id=lt.60&order=published_on.desc.nullslast,isbn"),
    ("public", "books", "author_id=lt.60&or=(pages.gt.300,price.is.null)"),
    ("reporting", "loan_events", "loan_id=lt.150&order=occurred_at"),
]


def _api(client, schema, name, query, accept="application/json"):
    """The API's answer to the same read, all rows in one response."""
    headers = {"Accept": accept, "Accept-Profile": schema}
    response = client.get(f"/api/{name}?{query}&limit=1000", headers=headers)
    assert response.status_code == 200
    return response.get_data()


@pytest.mark.parametrize("batch", [export.BATCH_ROWS, 7], ids=["one batch", "many batches"])
@pytest.mark.parametrize(("schema", "name", "query"), READS)
def test_csv_is_the_apis_csv(client, monkeypatch, batch, schema, name, query):
    monkeypatch.setattr(export, "BATCH_ROWS", batch)
    response = client.get(f"/browse/{schema}/{name}/export.csv?{query}", buffered=True)
    body = response.get_data()
    assert response.status_code == 200
    assert body == _api(client, schema, name, query, accept="text/csv")
    assert 100 < body.count(b"\r\n") - 1 < 1000


@pytest.mark.parametrize("batch", [export.BATCH_ROWS, 7], ids=["one batch", "many batches"])
@pytest.mark.parametrize(("schema", "name", "query"), READS)
def test_ndjson_lines_are_the_apis_rows(client, monkeypatch, batch, schema, name, query):
    monkeypatch.setattr(export, "BATCH_ROWS", batch)
    response = client.get(f"/browse/{schema}/{name}/export.ndjson?{query}", buffered=True)
    body = response.get_data()
    assert response.status_code == 200 and body.endswith(b"\n")
    lines = body[:-1].split(b"\n")
    # orjson writes a list as its items joined by commas: the same bytes, row for row.
    assert b"[" + b",".join(lines) + b"]" == _api(client, schema, name, query)
    assert 100 < len(lines) < 1000


def test_page_only_parameters_and_paging_are_ignored(client):
    query = "member_id=lt.30&order=loaned_at.desc"
    whole = client.get(f"/browse/public/loans/export.csv?{query}", buffered=True).get_data()
    paged = client.get(
        f"/browse/public/loans/export.csv?{query}&limit=5&offset=10&_count=exact&_format=json",
        buffered=True,
    ).get_data()
    assert paged == whole


def test_select_limits_the_columns(client):
    csv_body = client.get(
        "/browse/public/loans/export.csv?select=id,due_on&id=lte.3", buffered=True
    ).get_data()
    assert csv_body.decode().split("\r\n")[0] == "id,due_on"
    assert csv_body.count(b"\r\n") == 4
    ndjson = client.get(
        "/browse/public/loans/export.ndjson?select=due_on,id&id=lte.3", buffered=True
    ).get_data()
    rows = [json.loads(line) for line in ndjson.splitlines()]
    assert [list(row) for row in rows] == [["due_on", "id"]] * 3
    assert [row["id"] for row in rows] == [1, 2, 3]


def test_without_order_rows_come_by_primary_key(client):
    body = client.get(
        "/browse/public/loans/export.ndjson?select=id&id=lte.2000", buffered=True
    ).get_data()
    ids = [json.loads(line)["id"] for line in body.splitlines()]
    assert ids == list(range(1, 2001))


def test_headers_of_a_download(client):
    response = client.get("/browse/public/loans/export.csv?id=lte.3", buffered=True)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"public.loans.csv\"; filename*=UTF-8''public.loans.csv"
    )
    assert response.headers["X-Export-Row-Cap"] == "1000000"
    assert "Content-Length" not in response.headers
    ndjson = client.get("/browse/reporting/loan_events/export.ndjson?id=lte.3", buffered=True)
    assert ndjson.headers["Content-Type"] == "application/x-ndjson"
    assert 'filename="reporting.loan_events.ndjson"' in ndjson.headers["Content-Disposition"]


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("s.plain.csv", "attachment; filename=\"s.plain.csv\"; filename*=UTF-8''s.plain.csv"),
        (
            's.we"ird\\;n=1.csv',
            "attachment; filename=\"s.we_ird__n_1.csv\"; filename*=UTF-8''s.we%22ird%5C%3Bn%3D1.csv",
        ),
        ("s.café.csv", "attachment; filename=\"s.caf_.csv\"; filename*=UTF-8''s.caf%C3%A9.csv"),
        (
            "s.a b\r\n.csv",
            "attachment; filename=\"s.a_b__.csv\"; filename*=UTF-8''s.a%20b%0D%0A.csv",
        ),
    ],
)
def test_filenames_are_safe(name, header):
    assert export.attachment(name) == header


def test_hostile_names_export_at_the_url_the_page_links_to(shapes_app):
    with shapes_app.test_request_context():
        url = url_for("export.export_rows", schema="warehouse", name="Q&A #1? 50%", fmt="csv")
    query = urlencode({"50%": "not.is.null", "order": "Question?.desc"})
    response = shapes_app.test_client().get(f"{url}?{query}", buffered=True)
    assert response.status_code == 200
    assert response.get_data(as_text=True).split("\r\n") == [
        "Question?,Answer & Notes,50%",
        "Where do returns go?,Bin LON/3 7-1 & then <b>QA</b>,50",
        "100% sure? a=b&c=d,,100",
        "",
    ]
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="warehouse.Q_A__1__50_.csv"; '
        "filename*=UTF-8''warehouse.Q%26A%20%231%3F%2050%25.csv"
    )


def test_the_cap_cuts_the_export_and_says_so(make_app, caplog):
    client = make_app(EXPORT_MAX_ROWS="10").test_client()
    csv_response = client.get("/browse/public/loans/export.csv?order=id.desc", buffered=True)
    lines = csv_response.get_data(as_text=True).split("\r\n")
    assert csv_response.headers["X-Export-Row-Cap"] == "10"
    assert len(lines) == 12 and lines[-1] == ""  # the header, ten rows, the final line break
    assert lines[1].startswith("50000,")
    ndjson = client.get("/browse/public/loans/export.ndjson", buffered=True).get_data().splitlines()
    assert [json.loads(line)["id"] for line in ndjson] == list(range(1, 11))
    assert "export of public.loans cut at EXPORT_MAX_ROWS=10 rows" in caplog.text
    caplog.clear()
    client.get("/browse/public/loans/export.csv?id=lte.10", buffered=True).get_data()
    assert "cut at" not in caplog.text  # exactly ten rows, not cut: nothing logged


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/browse/public/loans/export.csv?nope=eq.1", 400, "42703"),
        ("/browse/public/loans/export.csv?select=id,nope", 400, "42703"),
        ("/browse/public/loans/export.ndjson?order=nope.desc", 400, "42703"),
        ("/browse/public/loans/export.csv?id=eq.abc", 400, "22P02"),
        ("/browse/public/loans/export.csv?select=key:id", 400, "PGRST100"),
        ("/browse/public/loans/export.csv?_after=x&_before=y", 400, "PGRST100"),
        ("/browse/public/nowhere/export.csv", 404, "PGRST205"),
        ("/browse/nowhere/loans/export.csv", 404, "PGRST205"),
        ("/browse/public/loans/export.xml", 404, "HTTP404"),
    ],
)
def test_errors_are_ordinary_responses_not_broken_streams(client, url, status, code):
    as_json = client.get(url, buffered=True, headers={"Accept": "application/json"})
    assert as_json.status_code == status and as_json.json["code"] == code
    assert "Content-Disposition" not in as_json.headers
    page = client.get(url, buffered=True)
    assert page.status_code == status and page.mimetype == "text/html"


def test_streams_through_a_server_side_cursor_closed_with_the_response(client, db_connection):
    def open_cursors():
        return db_connection.execute(sa.text("SELECT count(*) FROM pg_cursors")).scalar()

    response = client.get("/browse/public/loans/export.csv", buffered=False)
    chunks = iter(response.response)
    assert next(chunks).startswith(b"id,book_id,copy_no,")
    next(chunks)
    assert open_cursors() == 1  # the test's connection is the export's: it sees its cursor
    response.close()  # what the server does when the client goes away
    assert open_cursors() == 0


@pytest.mark.parametrize("how", ["read to the end", "closed early", "HEAD"])
def test_the_connection_goes_back_to_the_pool(make_app, how):
    app = make_app()
    pool = app.extensions["pgfront"].engine.pool
    url = "/browse/public/loans/export.ndjson"
    client = app.test_client()
    if how == "read to the end":
        response = client.get(url, buffered=False)
        assert response.get_data().count(b"\n") == 50000
        assert pool.checkedout() == 0  # back with the last row, before the response is closed
    elif how == "closed early":
        response = client.get(url, buffered=False)
        next(iter(response.response))
        assert pool.checkedout() == 1
    else:
        response = client.head(url, buffered=False)  # a body that is never read
        assert response.status_code == 200 and response.get_data() == b""
    response.close()
    assert pool.checkedout() == 0


def test_exports_run_as_the_requests_role(make_app):
    client = make_app(DB_ANON_ROLE="web_anon", JWT_SECRET=SECRET).test_client()
    refused = client.get(
        "/browse/public/loans/export.csv", buffered=True, headers={"Accept": "application/json"}
    )
    assert refused.status_code == 401 and refused.json["code"] == "42501"
    assert client.get("/browse/public/branches/export.csv", buffered=True).status_code == 200
    token = jwt.encode({"role": "web_user", "member_id": 5, "exp": time.time() + 60}, SECRET)
    own = client.get(
        "/browse/public/loans/export.ndjson",
        buffered=True,
        headers={"Authorization": f"Bearer {token}"},
    )
    members = {json.loads(line)["member_id"] for line in own.get_data().splitlines()}
    assert own.status_code == 200 and members == {5}


# A database of its own: a table big enough to outlast waitress's 16 MB output buffer,
# a view that fails part way through, and a view whose reading would write.
_EXPORT_SCHEMA = """
CREATE TABLE big (id bigint PRIMARY KEY, note text NOT NULL);
INSERT INTO big SELECT i, repeat('x', 100) FROM generate_series(1, 300000) i;
CREATE VIEW exploding AS SELECT i, 1 / (i - 5000) AS x FROM generate_series(1, 10000) i;
CREATE TABLE hits (n int);
CREATE FUNCTION hit() RETURNS int LANGUAGE sql VOLATILE
    AS 'INSERT INTO hits VALUES (1) RETURNING n';
CREATE VIEW hitting AS SELECT hit() AS n;
"""


@pytest.fixture(scope="module")
def export_db(pg_server) -> str:
    """The URL of a database with big, exploding and hitting."""
    url = pg_server.create_database("pgfront_export")
    with psycopg.connect(pg_server.conninfo(url.database), autocommit=True) as conn:
        conn.execute(_EXPORT_SCHEMA)
        conn.execute("ANALYZE")
    return url.render_as_string(hide_password=False)


def test_an_export_cannot_write(make_app, export_db, pg_server):
    client = make_app(DATABASE_URL=export_db, DB_SCHEMAS="public").test_client()
    response = client.get(
        "/browse/public/hitting/export.csv", buffered=True, headers={"Accept": "application/json"}
    )
    assert response.json["code"] == "25006"  # read_only_sql_transaction, before the first byte
    with psycopg.connect(pg_server.conninfo(sa.make_url(export_db).database)) as conn:
        assert conn.execute("SELECT count(*) FROM hits").fetchone() == (0,)


@pytest.fixture(scope="module")
def export_server(export_db, pg_server, tmp_path_factory):
    """run.py serving the export database; yields (host, port, application_name, log path)."""
    name = f"pgfront_export_{uuid.uuid4().hex[:8]}"
    log_path = tmp_path_factory.mktemp("export_server") / "server.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_SCHEMAS")}
    env.update(
        DATABASE_URL=export_db, DB_SCHEMAS="public", DB_APPLICATION_NAME=name, LOG_LEVEL="INFO"
    )
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "run.py", "--port", "0", "--threads", "2"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        found = None
        for _ in range(300):
            found = re.search(r"Serving on http://([\d.]+):(\d+)/", log_path.read_text())
            if found or process.poll() is not None:
                break
            time.sleep(0.1)
        assert found, log_path.read_text()
        monitor = psycopg.connect(pg_server.conninfo(sa.make_url(export_db).database))
        monitor.autocommit = True
        yield found[1], int(found[2]), name, log_path, monitor
        monitor.close()
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def _busy_backends(monitor, application_name) -> int:
    """The app's backends running a statement or holding a transaction open."""
    return monitor.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
        " AND state IN ('active', 'idle in transaction')",
        (application_name,),
    ).fetchone()[0]


def _wait_until(condition, timeout: float = 10.0) -> bool:
    """Poll condition until true or timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.slow
def test_a_client_that_goes_away_frees_its_connection(export_server):
    host, port, name, log_path, monitor = export_server
    sock = socket.create_connection((host, port), timeout=30)
    sock.sendall(f"GET /browse/public/big/export.csv HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
    # Unread, the ~33 MB export fills waitress's 16 MB buffer: the export waits, mid-transaction.
    assert _wait_until(lambda: _busy_backends(monitor, name) == 1)
    sock.close()
    assert _wait_until(lambda: _busy_backends(monitor, name) == 0), "the export still holds it"
    assert "Client disconnected while serving /browse/public/big/export.csv" in log_path.read_text()


@pytest.mark.slow
def test_a_database_error_mid_stream_cuts_the_transfer(export_server):
    host, port, name, log_path, monitor = export_server
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/browse/public/exploding/export.csv")
    response = conn.getresponse()
    assert response.status == 200  # the first rows were fine
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    conn.close()
    lines = cut.value.partial.decode().splitlines()
    assert lines[0] == "i,x" and lines[1] == "1,0" and len(lines) < 5000
    log = log_path.read_text()
    assert re.search(r"export of public.exploding failed after \d+ rows: division by zero", log)
    assert _wait_until(lambda: _busy_backends(monitor, name) == 0)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/browse/public/big/export.ndjson?id=lte.3")
    assert conn.getresponse().read().count(b"\n") == 3  # and the server serves on
    conn.close()


def test_exports_beyond_the_concurrency_get_a_503(make_app):
    app = make_app(EXPORT_CONCURRENCY="1")
    client = app.test_client()
    first = client.get("/browse/public/loans/export.csv", buffered=False)
    try:
        assert first.status_code == 200
        second = client.get("/browse/public/loans/export.ndjson")
        assert second.status_code == 503
        assert second.headers["Retry-After"] == "5"
        assert "EXPORT_CONCURRENCY" in second.get_data(as_text=True)
    finally:
        first.close()
    third = client.get("/browse/public/branches/export.csv", buffered=True)
    assert third.status_code == 200 and third.data.startswith(b"id,")
