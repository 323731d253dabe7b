"""HIDDEN holds everywhere: partitions, inheritance children, foreign keys, error details,
and entries that name nothing (at startup, and after a reload renamed what they named)."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from webapp.config import ConfigError
from webapp.models import current_models

PARTITIONS = ("loan_events_2024", "loan_events_2025", "loan_events_2026", "loan_events_other")
REPORTING = {"Accept-Profile": "reporting"}
WRITE_REPORTING = {"Content-Profile": "reporting"}


def _not_served(response, where: str) -> None:
    """The answer a relation that does not exist gets: 404 naming only what was asked for."""
    assert response.status_code == 404, response.get_data(as_text=True)[:300]
    if response.is_json:
        assert response.json["code"] == "PGRST205"
        assert response.json["message"] == f"Could not find the table '{where}' in the schema cache"


def _not_embeddable(response, parent: str, name: str) -> None:
    """The answer an embed of a relation that does not exist gets: PostgREST's PGRST200."""
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.json["code"] == "PGRST200"
    assert response.json["message"] == (
        f"Could not find a relationship between '{parent}' and '{name}' in the schema cache"
    )


# ---------------------------------------------------------------------------
# A hidden partitioned table: its partitions are hidden with it
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def events_hidden(make_app):
    """The sample with reporting.loan_events (partitioned) and members.email hidden."""
    return make_app(keep=True, HIDDEN="reporting.loan_events,public.members.email")


@pytest.fixture
def hiding_client(events_hidden, isolate):
    """A client of events_hidden whose writes are rolled back after the test."""
    isolate(events_hidden)
    return events_hidden.test_client()


def test_partitions_of_a_hidden_table_are_not_listed(hiding_client):
    for path in ("/", "/?_format=json", "/schema/reporting", "/schema/reporting?_format=json"):
        assert "loan_events" not in hiding_client.get(path).get_data(as_text=True), path
    svg = hiding_client.get("/schema/reporting/diagram.svg").get_data(as_text=True)
    assert "loan_events" not in svg and "branch_targets" in svg
    document = hiding_client.get("/api/openapi.json", headers=REPORTING).get_data(as_text=True)
    assert "loan_events" not in document and "branch_targets" in document


@pytest.mark.parametrize("name", ("loan_events", *PARTITIONS))
def test_partitions_of_a_hidden_table_answer_as_if_they_did_not_exist(hiding_client, name):
    q = quote(name)
    nope = hiding_client.get("/api/nope", headers=REPORTING)
    _not_served(nope, "reporting.nope")
    _not_served(hiding_client.get(f"/api/{q}", headers=REPORTING), f"reporting.{name}")
    for page in ("", "/structure", "/row?id=1&occurred_at=2024-03-01", "/export.csv"):
        _not_served(hiding_client.get(f"/browse/reporting/{q}{page}"), f"reporting.{name}")
    options = hiding_client.options(f"/api/{q}", headers=REPORTING)
    assert options.status_code == hiding_client.options("/api/nope").status_code
    assert options.headers.get("Allow") == hiding_client.options("/api/nope").headers.get("Allow")


@pytest.mark.parametrize("name", PARTITIONS)
def test_partitions_of_a_hidden_table_cannot_be_written(hiding_client, events_hidden, name):
    def events() -> int:
        with events_hidden.extensions["pgfront"].engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM reporting.loan_events")).scalar()

    before = events()
    body = {"loan_id": 1, "kind": "reminded", "occurred_at": "2024-05-05T10:00:00Z"}
    _not_served(
        hiding_client.post(f"/api/{name}", json=body, headers=WRITE_REPORTING), f"reporting.{name}"
    )
    _not_served(
        hiding_client.patch(f"/api/{name}?id=eq.1", json={"kind": "x"}, headers=WRITE_REPORTING),
        f"reporting.{name}",
    )
    _not_served(
        hiding_client.delete(f"/api/{name}?id=eq.1", headers=WRITE_REPORTING), f"reporting.{name}"
    )
    assert events() == before


def test_tables_that_a_hidden_table_references_do_not_point_back_at_it(hiding_client):
    structure = hiding_client.get("/browse/public/loans/structure?_format=json").json
    assert structure["referenced_by"] == []
    row = hiding_client.get("/browse/public/loans/row?id=1&_format=json").json
    assert row["referenced_by"] == []
    page = hiding_client.get("/browse/public/loans/row?id=1").get_data(as_text=True)
    assert "loan_events" not in page
    embedded = hiding_client.get("/api/loans?select=id,loan_events(id)&limit=1")
    _not_embeddable(embedded, "loans", "loan_events")


def test_automap_classes_leave_out_hidden_tables_and_their_partitions(events_hidden):
    with events_hidden.app_context():
        models = current_models()
        names = {cls.__name__ for cls in models}
        assert not any("LoanEvents" in name for name in names)
        assert "reporting_loan_events" not in sa.inspect(models.Loans).relationships


# ---------------------------------------------------------------------------
# A hidden column of a partitioned table: hidden in each partition
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def payload_hidden(make_app):
    """The sample with the payload column of reporting.loan_events hidden."""
    return make_app(keep=True, HIDDEN="reporting.loan_events.payload")


@pytest.mark.parametrize("name", ("loan_events", *PARTITIONS))
def test_a_hidden_column_is_hidden_in_every_partition(payload_hidden, isolate, name):
    isolate(payload_hidden)
    client = payload_hidden.test_client()
    rows = client.get(f"/api/{name}?limit=2", headers=REPORTING)
    assert rows.status_code == 200 and all("payload" not in row for row in rows.json)
    for query in ("select=payload", "payload=is.null", "order=payload"):
        refused = client.get(f"/api/{name}?{query}", headers=REPORTING)
        assert refused.status_code == 400 and refused.json["code"] == "42703", query
    written = client.post(
        f"/api/{name}",
        json={
            "loan_id": 1,
            "kind": "reminded",
            "occurred_at": "2024-05-05T10:00:00Z",
            "payload": {},
        },
        headers=WRITE_REPORTING,
    )
    assert written.status_code == 400 and written.json["code"] == "PGRST204"
    for page in ("", "/structure", "/structure?_format=json", "/export.csv", "/export.ndjson"):
        text = client.get(f"/browse/reporting/{name}{page}").get_data(as_text=True)
        assert "payload" not in text, page
    document = client.get("/api/openapi.json", headers=REPORTING).json
    assert "payload" not in document["components"]["schemas"][name]["properties"]
    structure = client.get(f"/browse/reporting/{name}/structure?_format=json").json
    bounds = [part["bound"] for part in structure["partitions"]]
    bounds += [structure["partition_of"]["bound"]] if structure["partition_of"] else []
    assert bounds and bounds == [None] * len(bounds)  # the key may be a hidden column


# ---------------------------------------------------------------------------
# Table inheritance (tests/shapes/004): children and grandchildren follow their parent
# ---------------------------------------------------------------------------

NOTES = ("notes", "site_notes", "urgent_notes")


def _shapes_app(make_app, shapes_database_url, hidden: str):
    return make_app(
        DATABASE_URL=shapes_database_url.render_as_string(hide_password=False),
        DB_SCHEMAS="warehouse,Ops Data",
        RELOAD_CHANNEL="",
        HIDDEN=hidden,
    )


def test_hiding_a_parent_hides_its_inheritance_children(make_app, shapes_database_url):
    client = _shapes_app(make_app, shapes_database_url, "warehouse.notes").test_client()
    assert "notes" not in client.get("/?_format=json").get_data(as_text=True)
    for name in NOTES:
        _not_served(client.get(f"/api/{name}"), f"warehouse.{name}")
        _not_served(client.get(f"/browse/warehouse/{name}"), f"warehouse.{name}")
    sites = client.get("/browse/warehouse/sites/row?code=AMS-1&_format=json").json
    assert all("notes" not in ref["source"] for ref in sites["referenced_by"])


def test_a_hidden_column_is_hidden_in_every_inheritance_child(make_app, shapes_database_url):
    client = _shapes_app(make_app, shapes_database_url, "warehouse.notes.author").test_client()
    for name in NOTES:
        rows = client.get(f"/api/{name}")
        assert rows.status_code == 200 and rows.json, name
        assert all("author" not in row for row in rows.json), name
        assert client.get(f"/api/{name}?select=author").status_code == 400
        structure = client.get(f"/browse/warehouse/{name}/structure?_format=json").json
        assert "author" not in {column["name"] for column in structure["columns"]}
    assert "ben" not in client.get("/browse/warehouse/urgent_notes/export.csv").get_data(
        as_text=True
    )


# ---------------------------------------------------------------------------
# Foreign keys into hidden tables and hidden columns are not followed or shown
# ---------------------------------------------------------------------------

OPS = {"Accept-Profile": "Ops Data"}


@pytest.fixture(scope="module")
def keys_hidden(make_app, shapes_database_url):
    """Shapes with products.barcode (what scans.barcode references) and scanners hidden."""
    return make_app(
        keep=True,
        DATABASE_URL=shapes_database_url.render_as_string(hide_password=False),
        DB_SCHEMAS="warehouse,Ops Data",
        RELOAD_CHANNEL="",
        HIDDEN="warehouse.products.barcode,Ops Data.scanners",
    )


def test_embeds_do_not_follow_keys_to_hidden_columns(keys_hidden):
    client = keys_hidden.test_client()
    response = client.get("/api/scans?select=id,products(sku)", headers=OPS)
    assert response.status_code == 400 and response.json["code"] == "PGRST200"
    assert "barcode" not in response.get_data(as_text=True)
    _not_embeddable(
        client.get("/api/scans?select=id,scanners(ip)", headers=OPS), "scans", "scanners"
    )


def test_openapi_does_not_describe_keys_to_hidden_things(keys_hidden):
    document = keys_hidden.test_client().get("/api/openapi.json", headers=OPS).json
    scans = document["components"]["schemas"]["scans"]["properties"]
    assert "products" not in scans["barcode"].get("description", "")
    assert "scanners" not in scans["scanner_mac"].get("description", "")
    assert "scanners" not in document["components"]["schemas"]["cycle_counts"]["properties"][
        "scanner_id"
    ].get("description", "")


def test_pages_do_not_link_keys_to_hidden_things(keys_hidden):
    client = keys_hidden.test_client()
    scan = client.get("/api/scans?limit=1", headers=OPS).json[0]
    row = client.get(f"/browse/Ops%20Data/scans/row?id={scan['id']}&_format=json").json
    assert row["foreign_keys"] == []
    sku = quote(client.get("/api/products?limit=1&select=sku").json[0]["sku"], safe="")
    product = client.get(f"/browse/warehouse/products/row?sku={sku}&_format=json").json
    assert all(ref["source"] != "Ops Data.scans" for ref in product["referenced_by"])
    structure = client.get("/browse/Ops%20Data/scans/structure?_format=json").json
    assert structure["foreign_keys"] == []
    products = client.get("/browse/warehouse/products/structure?_format=json").json
    assert all(ref["table"] != "scans" for ref in products["referenced_by"])
    schema = client.get("/schema/Ops%20Data?_format=json").json
    assert all(edge["from"] != "scans" for edge in schema["edges"])
    svg = client.get("/schema/Ops%20Data/diagram.svg").get_data(as_text=True)
    assert "barcode" not in svg and "scanners" not in svg


def test_automap_does_not_relate_over_hidden_columns(keys_hidden):
    with keys_hidden.app_context():
        models = current_models()
        assert "Scanners" not in {cls.__name__ for cls in models}
        scans = set(sa.inspect(models["Ops Data.scans"]).relationships.keys())
        products = set(sa.inspect(models.Products).relationships.keys())
        assert not any("product" in name for name in scans), scans
        assert not any("scans" in name for name in products), products
        assert "barcode" not in sa.inspect(models.Products).columns


# ---------------------------------------------------------------------------
# Errors name nothing hidden, and carry no hidden values
# ---------------------------------------------------------------------------


def test_a_check_violation_does_not_dump_the_row_with_its_hidden_column(hiding_client):
    response = hiding_client.patch("/api/members?id=eq.1", json={"max_loans": 99})
    assert response.status_code == 400 and response.json["code"] == "23514"
    assert response.json["details"] is None
    assert "@" not in response.get_data(as_text=True)


def test_a_missing_hidden_value_is_not_named(hiding_client):
    response = hiding_client.post(
        "/api/members",
        json={"full_name": "N. N.", "joined_at": "2024-01-01T00:00:00Z", "home_branch_id": 1},
    )
    assert response.status_code == 400 and response.json["code"] == "23502"
    assert "email" not in response.get_data(as_text=True)


def test_a_conflict_does_not_name_a_hidden_referencing_table(hiding_client):
    response = hiding_client.delete("/api/loans?id=eq.1")
    assert response.status_code == 409 and response.json["code"] == "23503"
    assert "loan_events" not in response.get_data(as_text=True)
    assert response.json["details"] is None


def test_errors_of_tables_without_hidden_neighbours_keep_their_details(hiding_client):
    first = hiding_client.get("/api/branches?limit=1&select=name").json[0]["name"]
    response = hiding_client.post("/api/branches", json={"name": first, "city": "x"})
    assert response.status_code == 409 and "already exists" in response.json["details"]


# ---------------------------------------------------------------------------
# Entries that name nothing: startup stops; a reload keeps hiding what was renamed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        (
            {"HIDDEN": "public.members.emial"},
            "HIDDEN=public.members.emial names nothing: public.members has no column emial",
        ),
        (
            {"HIDDEN": "public.nope"},
            "HIDDEN=public.nope names nothing: there is no relation public.nope",
        ),
        (
            {"LABEL_COLUMNS": "public.members.emial"},
            "LABEL_COLUMNS=public.members.emial names nothing: no served relation "
            "public.members has a column emial",
        ),
        (
            {"LABEL_COLUMNS": "public.members.email", "HIDDEN": "public.members.email"},
            "LABEL_COLUMNS=public.members.email names nothing: no served relation "
            "public.members has a column email",
        ),
    ],
)
def test_an_entry_naming_nothing_stops_startup_with_one_line(make_app, settings, line):
    with pytest.raises(ConfigError) as failure:
        make_app(**settings)
    assert str(failure.value) == line


def test_a_prefixed_entry_naming_nothing_in_its_database_stops_startup(make_app, database_url):
    url = database_url.render_as_string(hide_password=False)
    with pytest.raises(ConfigError) as failure:
        make_app(DATABASES={"copy": url}, HIDDEN="copy:public.members.emial")
    assert str(failure.value) == (
        "HIDDEN=copy:public.members.emial names nothing: public.members has no column emial"
    )


@pytest.fixture
def own_database(pg_server):
    """A database of this test's own, for DDL the shared sample must not see."""
    url = pg_server.create_database("pgfront_hidden")
    engine = sa.create_engine(url)

    def run(*statements: str) -> None:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))

    run(
        "CREATE TABLE people (id int PRIMARY KEY, name text, email text)",
        "INSERT INTO people VALUES (1, 'Ann', 'ann@example.com')",
        "CREATE TABLE secrets (id int PRIMARY KEY, person_id int REFERENCES people, word text)",
        "INSERT INTO secrets VALUES (1, 1, 'swordfish')",
        # two levels of partitions: hiding the root hides every level
        "CREATE TABLE events (id int, at date, note text) PARTITION BY RANGE (at)",
        "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01')"
        " TO ('2025-01-01') PARTITION BY LIST (id)",
        "CREATE TABLE events_2024_low PARTITION OF events_2024 FOR VALUES IN (1, 2, 3)",
        "CREATE TABLE events_2024_rest PARTITION OF events_2024 DEFAULT",
        "INSERT INTO events VALUES (1, '2024-02-02', 'quiet')",
    )
    yield url, run
    engine.dispose()


def _own_app(make_app, url, hidden: str, **settings):
    return make_app(
        DATABASE_URL=url.render_as_string(hide_password=False),
        DB_SCHEMAS="public",
        RELOAD_CHANNEL="",
        HIDDEN=hidden,
        **settings,
    )


def test_every_level_of_partitions_is_hidden(make_app, own_database):
    url, _ = own_database
    client = _own_app(make_app, url, "public.events").test_client()
    for name in ("events", "events_2024", "events_2024_low", "events_2024_rest"):
        _not_served(client.get(f"/api/{name}"), f"public.{name}")
    assert "events" not in client.get("/?_format=json").get_data(as_text=True)


def test_a_reload_after_renames_keeps_hiding_the_renamed_things(make_app, own_database, caplog):
    url, run = own_database
    app = _own_app(
        make_app,
        url,
        "public.people.email,public.secrets",
        ADMIN_TOKEN="s3cret-admin-token-for-tests",
    )
    client = app.test_client()
    state = app.extensions["pgfront"]
    assert client.get("/ready").json["dangling_settings"] == []
    run(
        "ALTER TABLE people RENAME COLUMN email TO e_mail",
        "ALTER TABLE secrets RENAME TO vault",
    )
    with caplog.at_level(logging.WARNING, logger="db.reload"):
        assert state.reloader.reload_now("test").ok
    assert client.get("/api/people").json == [{"id": 1, "name": "Ann"}]
    _not_served(client.get("/api/vault"), "public.vault")
    assert "HIDDEN=public.people.email is now public.people.e_mail; still hidden" in caplog.text
    assert "HIDDEN=public.secrets is now public.vault; still hidden" in caplog.text
    ready = client.get("/ready").json["dangling_settings"]
    assert ready == [
        {"setting": "HIDDEN", "database": "main"},
        {"setting": "HIDDEN", "database": "main"},
    ]
    told = client.post(
        "/admin/reload", headers={"Authorization": "Bearer s3cret-admin-token-for-tests"}
    ).json
    assert told["dangling_settings"] == [
        "HIDDEN=public.people.email is now public.people.e_mail; still hidden",
        "HIDDEN=public.secrets is now public.vault; still hidden",
    ]
    # A new column under the old name is hidden too; the renamed one stays hidden.
    run("ALTER TABLE people ADD COLUMN email text")
    assert state.reloader.reload_now("test").ok
    assert client.get("/api/people").json == [{"id": 1, "name": "Ann"}]


def test_a_column_that_cannot_be_identified_hides_its_whole_relation(make_app, own_database):
    url, run = own_database
    app = _own_app(make_app, url, "public.people.email")
    client = app.test_client()
    run("ALTER TABLE people DROP COLUMN email", "ALTER TABLE people ADD COLUMN mail text")
    state = app.extensions["pgfront"]
    assert state.reloader.reload_now("test").ok
    _not_served(client.get("/api/people"), "public.people")
    assert client.get("/api/secrets").status_code == 200


def test_a_prefixed_entry_hides_partitions_in_its_database_only(make_app, database_url):
    url = database_url.render_as_string(hide_password=False)
    app = make_app(
        DATABASES={"copy": f"{url}?schemas=public,reporting"}, HIDDEN="copy:reporting.loan_events"
    )
    client = app.test_client()
    assert client.get("/api/loan_events_2024?limit=1", headers=REPORTING).status_code == 200
    _not_served(
        client.get("/db/copy/api/loan_events_2024", headers=REPORTING),
        "reporting.loan_events_2024",
    )
    assert "loan_events" not in client.get("/db/copy/?_format=json").get_data(as_text=True)
