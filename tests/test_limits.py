"""Request-wide limits: embeds per request and their depth, embedded rows, the request deadline."""

import logging
import time

import pytest
import sqlalchemy as sa
from flask import Blueprint

from db.session import Session
from webapp.config import ConfigError, load_settings


def _embeds(count, template="b{i}:books(*)"):
    return ",".join(template.format(i=i) for i in range(count))


def _idle_in_transaction(engine, application_name):
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"
                " AND state LIKE 'idle in transaction%'"
            ),
            {"name": application_name},
        ).scalar()


@pytest.fixture
def statements(caplog):
    """The statements the app ran while the block ran (RECORD_QUERIES logs each at DEBUG)."""

    def ran():
        return [r.getMessage() for r in caplog.records if r.name == "webapp.queries"]

    caplog.set_level(logging.DEBUG, "webapp.queries")
    return ran


# The finding: 40 one-to-many embeds in a 554-byte anonymous URL answered 88 MB in 13 s.


def test_forty_sibling_one_to_many_embeds_are_refused_before_any_sql(make_app, statements):
    client = make_app(RECORD_QUERIES="true").test_client()
    response = client.get(f"/api/authors?select=id,{_embeds(40)}")
    assert response.status_code == 400
    assert "MAX_EMBEDS" in response.json["message"] and "10" in response.json["message"]
    assert response.json["code"] == "PGRST100"
    assert statements() == []


def test_as_many_embeds_as_allowed_are_answered(client):
    response = client.get(f"/api/authors?select=id,{_embeds(10)}&limit=3&order=id")
    assert response.status_code == 200
    assert [len(row) for row in response.json] == [11, 11, 11]


def test_a_thousand_nested_one_to_one_embeds_are_a_400_naming_the_depth(client):
    deep = "authors(books(" * 500 + "*" + "))" * 500
    response = client.get(f"/api/books?select=id,{deep}")
    assert response.status_code == 400
    assert "MAX_EMBED_DEPTH" in response.json["message"]


def test_a_thousand_sibling_one_to_one_embeds_are_a_400_not_a_recursion_error(client):
    response = client.get(f"/api/books?select=id,{_embeds(1000, 'a{i}:authors(*)')}")
    assert response.status_code == 400
    assert "MAX_EMBEDS" in response.json["message"]


def test_embed_limits_are_settings(make_app):
    client = make_app(MAX_EMBEDS="2", MAX_EMBED_DEPTH="1").test_client()
    assert client.get("/api/authors?select=id,a:books(id),b:books(id)&limit=1").status_code == 200
    three = client.get("/api/authors?select=id,a:books(id),b:books(id),c:books(id)")
    assert three.status_code == 400 and "MAX_EMBEDS=2" in three.json["message"]
    nested = client.get("/api/authors?select=id,books(id,copies(copy_no))&limit=1")
    assert nested.status_code == 400 and "MAX_EMBED_DEPTH=1" in nested.json["message"]


def test_the_highest_embed_settings_still_answer(make_app):
    # 100 to-one embeds are 100 LEFT JOINs in one statement; 16 levels, 16 queries in a chain.
    client = make_app(MAX_EMBEDS="100", MAX_EMBED_DEPTH="16").test_client()
    wide = client.get(f"/api/books?select=id,{_embeds(100, 'a{i}:authors(id)')}&limit=2")
    assert wide.status_code == 200 and len(wide.json[0]) == 101
    deep = "authors(id,books(" * 8 + "id" + "))" * 8
    response = client.get(f"/api/books?select=id,{deep}&limit=1&order=id")
    assert response.status_code == 200 and response.json[0]["authors"]["books"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_EMBEDS", "101"),
        ("MAX_EMBED_DEPTH", "17"),
        ("MAX_EMBED_ROWS", "0"),
        ("REQUEST_TIMEOUT", "-1"),
    ],
)
def test_limits_beyond_what_is_safe_stop_startup(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value}, environ={})


def test_nested_embeds_count_toward_the_request(make_app):
    client = make_app(MAX_EMBEDS="3").test_client()
    inner = "books(id,copies(copy_no,branches(name),loans(id)))"
    response = client.get(f"/api/authors?select=id,{inner}&limit=1")
    assert response.status_code == 400 and "MAX_EMBEDS=3" in response.json["message"]


def test_a_very_long_select_is_a_400(client):
    # 200 KB of names: refused at once (a check comparing every name with every other took
    # minutes on such a list).
    response = client.get("/api/books?select=" + ",".join(["title"] * 33000))
    assert response.status_code == 400 and "1664" in response.json["message"]
    repeated = client.get("/api/books?select=" + ",".join(["title"] * 1600))
    assert repeated.status_code == 400 and "more than once" in repeated.json["message"]


def test_more_selected_columns_than_postgresql_allows_is_a_400(client):
    columns = ",".join(f"c{i}:id" for i in range(2000))
    response = client.get(f"/api/books?select={columns}")
    assert response.status_code == 400 and "1664" in response.json["message"]


# Rows: MAX_ROWS bounds each level, MAX_EMBED_ROWS all the embedded rows of one request.


def test_embedded_rows_past_the_request_limit_are_a_413_naming_it(client):
    # 5,000 books three times over: 15,000 embedded rows.
    response = client.get(f"/api/authors?select=id,{_embeds(3, 'b{i}:books(id)')}")
    assert response.status_code == 413
    assert "MAX_EMBED_ROWS" in response.json["message"]
    assert "10000" in response.json["message"]
    assert response.json["hint"]


def test_embedded_rows_up_to_the_limit_are_answered(client):
    response = client.get(f"/api/authors?select=id,{_embeds(2, 'b{i}:books(id)')}")
    assert response.status_code == 200
    assert sum(len(row["b0"]) + len(row["b1"]) for row in response.json) == 10000


def test_the_embedded_row_limit_counts_every_level_and_every_embed(make_app, engine):
    with engine.connect() as conn:
        books, copies = conn.execute(
            sa.text(
                "SELECT count(DISTINCT b.id), count(c.*) FROM books b"
                " LEFT JOIN copies c ON c.book_id = b.id WHERE b.author_id <= 3"
            )
        ).one()
    assert books > 0 and copies > 0
    client = make_app(MAX_EMBED_ROWS=str(books + copies - 1)).test_client()
    alone = client.get("/api/authors?select=id,books(id)&id=lte.3")
    assert alone.status_code == 200
    assert sum(len(row["books"]) for row in alone.json) == books
    # The same books with their copies: one row more than the limit in all.
    deeper = client.get("/api/authors?select=id,books(id,copies(copy_no))&id=lte.3")
    assert deeper.status_code == 413
    assert f"MAX_EMBED_ROWS={books + copies - 1}" in deeper.json["message"]
    # To-one embeds read in the parent's statement count too.
    joined = client.get(f"/api/books?select=id,authors(id)&limit={books + copies}")
    assert joined.status_code == 413


def test_reads_with_many_embedded_rows_take_turns_within_the_deadline(make_app):
    app = make_app(REQUEST_TIMEOUT="300")
    client = app.test_client()
    turns = app.extensions["pgfront"].embed_turns
    heavy = "/api/authors?select=id,books(id)"  # 5,000 embedded rows: more than MAX_ROWS
    assert turns.acquire(blocking=False)  # another heavy read holds the only turn
    try:
        waiting = client.get(heavy)
        light = client.get("/api/authors?select=id,books(id)&limit=5")
    finally:
        turns.release()
    assert waiting.status_code == 504 and "REQUEST_TIMEOUT" in waiting.json["message"]
    assert light.status_code == 200  # few embedded rows need no turn
    assert client.get(heavy).status_code == 200
    assert turns.acquire(blocking=False)  # each request gives its turn back
    turns.release()


def test_a_per_parent_limit_keeps_a_wide_embed_under_the_row_limit(client):
    wide = f"/api/authors?select=id,{_embeds(3, 'b{i}:books(id)')}"
    limited = wide + "".join(f"&b{i}.limit=1" for i in range(3))
    response = client.get(limited)
    assert response.status_code == 200
    assert all(len(row["b0"]) <= 1 for row in response.json)


# The deadline: REQUEST_TIMEOUT bounds a request's database work, not each statement.


def _probe_app(make_app, **config):
    app = make_app(DB_APPLICATION_NAME="pgfront-deadline", **config)
    probe = Blueprint("probe", __name__)

    @probe.get("/api/three-sleeps")
    def three_sleeps():
        for _ in range(3):  # each well under the statement timeout
            Session.execute(sa.text("SELECT pg_sleep(0.3)"))
        return {"slept": 3}

    @probe.post("/api/sleep-then-write")
    def sleep_then_write():
        Session.execute(sa.text("SELECT pg_sleep(0.3)"))
        Session.execute(sa.text("SELECT pg_sleep(0.3)"))
        Session.execute(sa.text("INSERT INTO branches (name, city) VALUES ('Deadline', 'x')"))
        Session.commit()
        return {}

    app.register_blueprint(probe)
    return app


def _pooled_statement_timeouts(app):
    """statement_timeout of every connection in the app's pool, seen outside any request."""
    engine = app.extensions["pgfront"].engine
    held = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
    try:
        return [conn.cursor().execute("SHOW statement_timeout").fetchone()[0] for conn in held]
    finally:
        for conn in held:
            conn.close()


def test_statements_each_under_the_statement_timeout_are_cut_at_the_deadline(make_app, engine):
    app = _probe_app(make_app, REQUEST_TIMEOUT="500", DB_STATEMENT_TIMEOUT="5000", THREADS="1")
    client = app.test_client()
    response = client.get("/api/three-sleeps")
    assert response.status_code == 504
    assert "REQUEST_TIMEOUT" in response.json["message"] and "500" in response.json["message"]
    assert response.json["code"] == "57014"
    # The connection is clean: no transaction left open, the statement timeout back to its own.
    assert app.extensions["pgfront"].engine.pool.checkedout() == 0
    assert _idle_in_transaction(engine, "pgfront-deadline") == 0
    assert set(_pooled_statement_timeouts(app)) == {"5s"}


def test_a_write_past_the_deadline_is_cancelled_and_rolled_back(make_app, engine):
    app = _probe_app(make_app, REQUEST_TIMEOUT="400")
    response = app.test_client().post("/api/sleep-then-write")
    assert response.status_code == 504 and "REQUEST_TIMEOUT" in response.json["message"]
    with engine.connect() as conn:
        written = conn.execute(sa.text("SELECT count(*) FROM branches WHERE name = 'Deadline'"))
        assert written.scalar() == 0


def test_a_slow_api_read_is_a_504_naming_the_deadline(make_app):
    # The filter matches nothing, so the scan reads all 50,000 loans: never within 1 ms.
    client = make_app(REQUEST_TIMEOUT="1").test_client()
    response = client.get("/api/loans?book_id=ilike.*zzz*")
    assert response.status_code == 504
    assert "REQUEST_TIMEOUT" in response.json["message"]
    assert client.get("/live").status_code == 200


def test_a_request_timeout_of_zero_means_none(make_app):
    app = _probe_app(make_app, REQUEST_TIMEOUT="0", DB_STATEMENT_TIMEOUT="5000")
    assert app.test_client().get("/api/three-sleeps").json == {"slept": 3}


def test_a_statement_timeout_shorter_than_the_deadline_still_applies(make_app):
    app = _probe_app(make_app, REQUEST_TIMEOUT="60000", DB_STATEMENT_TIMEOUT="100")
    response = app.test_client().get("/api/three-sleeps")
    assert response.status_code == 504
    assert "REQUEST_TIMEOUT" not in response.json["message"]


def test_a_page_past_the_deadline_is_a_504_page_with_the_form(make_app):
    client = make_app(REQUEST_TIMEOUT="1").test_client()
    response = client.get("/browse/public/loans?book_id=ilike.*zzz*&order=due_on")
    html = response.get_data(as_text=True)
    assert response.status_code == 504 and response.mimetype == "text/html"
    assert "REQUEST_TIMEOUT" in html and "Apply filters" in html


def test_health_endpoints_ignore_the_deadline(make_app):
    client = make_app(REQUEST_TIMEOUT="1").test_client()
    assert client.get("/ready").status_code == 200


def test_an_export_past_the_deadline_before_its_first_byte_is_a_504(make_app):
    client = make_app(REQUEST_TIMEOUT="1").test_client()
    response = client.get("/browse/public/loans/export.csv?book_id=ilike.*zzz*")
    assert response.status_code == 504


def test_an_export_past_the_deadline_stops_and_releases_its_connection(make_app, engine):
    app = make_app(REQUEST_TIMEOUT="1500", DB_APPLICATION_NAME="pgfront-deadline-export")
    response = app.test_client().get("/browse/public/loans/export.csv", buffered=False)
    assert response.status_code == 200
    chunks = iter(response.response)
    first = next(chunks) + next(chunks)  # the header line, then the first batch
    time.sleep(1.6)  # past the deadline, while the export still has rows to send
    with pytest.raises(Exception, match="REQUEST_TIMEOUT"):
        for chunk in chunks:
            first += chunk
    response.close()
    assert 0 < first.count(b"\n") < 50001  # cut off: never the whole table
    assert app.extensions["pgfront"].engine.pool.checkedout() == 0
    assert _idle_in_transaction(engine, "pgfront-deadline-export") == 0


def test_a_short_statement_timeout_does_not_stop_reflection(make_app):
    """DB_STATEMENT_TIMEOUT bounds requests; startup's reflection gets at least a minute."""
    from webapp.state import current_catalog

    app = make_app(DB_STATEMENT_TIMEOUT="40")
    with app.app_context():
        catalog = current_catalog()
    assert "books" in {relation.name for relation in catalog.relations.values()}
    assert catalog.functions  # the heaviest reflection query ran too
