"""Several databases: the library (primary) and the shapes database (DATABASES) in one app."""

from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import psycopg
import pytest
import sqlalchemy as sa
from openapi_spec_validator import validate

from db.session import Session
from webapp.databases import database
from webapp.state import current_catalog, current_database

SHAPES_SCHEMAS = "warehouse,Ops Data"


def _url(url, schemas):
    """A DATABASES URL: the database's URL with ?schemas=."""
    return url.set(query={"schemas": schemas}).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def multi_app(make_app, shapes_database_url):
    """The library at the root, the shapes database under /db/shapes/."""
    return make_app(
        keep=True,
        DATABASES={"shapes": _url(shapes_database_url, SHAPES_SCHEMAS)},
        ADMIN_TOKEN="s3cret-admin-token-for-tests",
    )


@pytest.fixture
def shapes(multi_app):
    """The shapes database's state."""
    return multi_app.extensions["pgfront"].databases["shapes"]


@pytest.fixture
def client(multi_app, isolate, shapes):
    """A client whose requests to either database are rolled back after the test."""
    isolate(multi_app)
    connection = shapes.engine.connect()
    outer = connection.begin()
    shapes.session_options = {"bind": connection, "join_transaction_mode": "create_savepoint"}
    yield multi_app.test_client()
    shapes.session_options = {"bind": shapes.engine}
    outer.rollback()
    connection.close()


# ---------------------------------------------------------------------------
# The API under /db/<name>/api
# ---------------------------------------------------------------------------


def test_read_filter_and_embed_in_the_named_database(client):
    roots = client.get("/db/shapes/api/categories?parent_id=is.null&select=id,name")
    assert roots.status_code == 200 and roots.json == [{"id": 1, "name": "All goods"}]
    embedded = client.get("/db/shapes/api/products?select=sku,categories(name)&limit=3")
    assert embedded.status_code == 200 and len(embedded.json) == 3
    assert all("name" in row["categories"] for row in embedded.json if row["categories"])
    ranged = client.get("/db/shapes/api/categories", headers={"Prefer": "count=exact"})
    assert ranged.headers["Content-Range"].endswith(f"/{len(ranged.json)}")


def test_write_in_the_named_database(client):
    created = client.post(
        "/db/shapes/api/categories",
        json={"parent_id": 1, "name": "Multi-database test"},
        headers={"Prefer": "return=representation"},
    )
    assert created.status_code == 201
    new_id = created.json[0]["id"]
    again = client.post(
        "/db/shapes/api/categories", json={"parent_id": 1, "name": "Multi-database test"}
    )
    assert again.status_code == 409 and again.json["code"] == "23505"  # the error mapping applies
    patched = client.patch(f"/db/shapes/api/categories?id=eq.{new_id}", json={"group": "mdb"})
    assert patched.status_code == 204
    assert client.get(f"/db/shapes/api/categories?id=eq.{new_id}").json[0]["group"] == "mdb"
    assert client.delete(f"/db/shapes/api/categories?id=eq.{new_id}").status_code == 204


def test_location_header_stays_in_the_database(client):
    response = client.post(
        "/db/shapes/api/categories",
        json={"parent_id": 1, "name": "Located"},
        headers={"Prefer": "return=headers-only"},
    )
    assert response.status_code == 201
    assert response.headers["Location"].startswith("/db/shapes/api/categories?id=eq.")


def test_accept_profile_picks_a_schema_of_the_named_database(client):
    assert client.get("/db/shapes/api/scanners").status_code == 404  # not in warehouse
    scanners = client.get("/db/shapes/api/scanners", headers={"Accept-Profile": "Ops Data"})
    assert scanners.status_code == 200 and scanners.json
    other = client.get("/db/shapes/api/scanners", headers={"Accept-Profile": "public"})
    assert other.status_code == 406 and other.json["code"] == "PGRST106"


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [
        ("/db/nope/api/books", "application/json"),
        ("/db/nope/", "text/html"),
        ("/db/main/api/books", "application/json"),  # the primary lives at the root only
        ("/db/shapes/api/books", "application/json"),  # a table of the other database
        ("/api/products", "application/json"),
        ("/db/shapes/browse/public/books", "text/html"),
    ],
)
def test_unknown_databases_and_tables_of_the_other_one_are_404s(client, path, mimetype):
    response = client.get(path)
    assert response.status_code == 404 and response.mimetype == mimetype


def test_read_only_setting_covers_named_databases(make_app, shapes_database_url):
    app = make_app(READ_ONLY="true", DATABASES={"shapes": _url(shapes_database_url, "warehouse")})
    response = app.test_client().post("/db/shapes/api/categories", json={"name": "x"})
    assert response.status_code == 405 and response.json["code"] == "25006"


def test_the_anonymous_role_applies_to_named_databases(make_app, shapes_database_url):
    # web_anon (sql/006) exists on the server but has no grant in the shapes database.
    app = make_app(
        DB_ANON_ROLE="web_anon", DATABASES={"shapes": _url(shapes_database_url, "warehouse")}
    )
    client = app.test_client()
    assert client.get("/api/books?limit=1").status_code == 200
    denied = client.get("/db/shapes/api/categories")
    assert denied.status_code == 401 and denied.json["code"] == "42501"


def test_a_get_runs_read_only_on_the_named_database_with_its_timeouts(multi_app, shapes):
    with multi_app.test_request_context("/db/shapes/api/categories"):
        multi_app.preprocess_request()
        assert Session.get_bind() is shapes.read_only_engine
        assert Session.scalar(sa.text("SHOW transaction_read_only")) == "on"
        assert Session.scalar(sa.text("SELECT current_database()")) == shapes.engine.url.database
        assert Session.scalar(sa.text("SHOW statement_timeout")) == "15s"
        assert current_catalog() is shapes.catalog


def test_openapi_per_database(client, shapes):
    primary = client.get("/api/openapi.json")
    assert primary.json["servers"] == [{"url": "/api"}]
    assert "shapes" not in primary.get_data(as_text=True)
    for schema in SHAPES_SCHEMAS.split(","):
        response = client.get("/db/shapes/api/openapi.json", headers={"Accept-Profile": schema})
        document = response.json
        validate(document)
        assert document["servers"] == [{"url": "/db/shapes/api"}]
        assert "database shapes" in document["info"]["title"]
        names = {f"/{quote(rel.name, safe='')}" for rel in shapes.catalog.in_schema(schema)}
        assert set(document["paths"]) == names


# ---------------------------------------------------------------------------
# The HTML pages under /db/<name>/
# ---------------------------------------------------------------------------


class Links(HTMLParser):
    """Every href, src and form action of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src", "action", "xlink:href") and value is not None:
                self.found.append(value)


def _links(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    parser.close()
    return parser.found


def test_index_lists_every_database(client, multi_app):
    html = client.get("/").get_data(as_text=True)
    assert 'href="/db/shapes/"' in html and "(this one)" in html
    twin = client.get("/?_format=json").json
    assert twin["database"] == "main"
    listed = {entry["name"]: entry for entry in twin["databases"]}
    assert listed["main"]["current"] and listed["main"]["url"] == "/"
    assert listed["shapes"]["url"] == "/db/shapes/" and listed["shapes"]["relations"] == len(
        multi_app.extensions["pgfront"].databases["shapes"].catalog.relations
    )
    named = client.get("/db/shapes/?_format=json").json
    assert named["database"] == "shapes"
    assert {schema["schema"] for schema in named["schemas"]} == set(SHAPES_SCHEMAS.split(","))
    assert all(
        rel["url"].startswith("/db/shapes/browse/")
        for s in named["schemas"]
        for rel in s["relations"]
    )
    page = client.get("/db/shapes/").get_data(as_text=True)
    assert "database <strong>shapes</strong>" in page and 'href="/"' in page  # and the way back


def test_every_link_of_a_named_database_stays_in_it(client):
    """Crawl from its index: every page's links stay under /db/shapes/ (but for / and /static/)."""
    start = "/db/shapes/"
    seen, queue, pages = {start}, [start], 0
    while queue and pages < 80:
        path = queue.pop(0)
        response = client.get(path)
        assert response.status_code in (200, 504), (path, response.status_code)
        pages += 1
        if response.mimetype not in ("text/html", "image/svg+xml"):
            continue
        for link in _links(response.get_data(as_text=True)):
            parts = urlsplit(link)
            if parts.scheme or link.startswith("#") or not link:
                continue
            target = link if link.startswith("/") else None
            assert target is not None, (path, link)  # pages link by absolute path
            assert target.startswith(("/db/shapes/", "/static/")) or target == "/", (path, link)
            if target.startswith("/db/shapes/") and "/export." not in target and target not in seen:
                seen.add(target)
                queue.append(target)
    visited = " ".join(seen)
    for kind in ("/browse/warehouse/", "/structure", "/row", "/schema/"):
        assert kind in visited, kind


def test_exports_stream_from_the_named_database(client):
    export = client.get("/db/shapes/browse/warehouse/categories/export.csv?order=id")
    api = client.get("/db/shapes/api/categories?order=id", headers={"Accept": "text/csv"})
    assert export.status_code == 200 and export.data == api.data and b"All goods" in export.data


def test_hidden_with_a_prefix_hides_only_in_that_database(make_app, database_url):
    app = make_app(
        DATABASES={"copy": _url(database_url, "public")},
        HIDDEN="copy:public.members.email",
    )
    client = app.test_client()
    assert "email" in client.get("/api/members?limit=1").json[0]
    assert "email" not in client.get("/db/copy/api/members?limit=1").json[0]
    assert client.get("/db/copy/api/members?select=email").status_code == 400
    structure = client.get("/db/copy/browse/public/members/structure?_format=json").json
    assert "email" not in {column["name"] for column in structure["columns"]}


# ---------------------------------------------------------------------------
# Operations: reload, health, metrics, closing
# ---------------------------------------------------------------------------


@pytest.fixture
def fresh_named(pg_server, make_app):
    """An app whose named database is empty and its own, so a test may change its schema."""
    url = pg_server.create_database("pgfront_named")
    app = make_app(
        DATABASES={"fresh": _url(url, "public")}, ADMIN_TOKEN="s3cret-admin-token-for-tests"
    )

    def run(statement):
        with psycopg.connect(pg_server.conninfo(url.database), autocommit=True) as conn:
            conn.execute(statement)

    return app, app.extensions["pgfront"], run


def test_admin_reload_reaches_every_database(fresh_named):
    app, state, run = fresh_named
    client = app.test_client()
    assert client.get("/db/fresh/api/parcels").status_code == 404
    run("CREATE TABLE parcels (id int PRIMARY KEY, label text)")
    response = client.post(
        "/admin/reload", headers={"Authorization": "Bearer s3cret-admin-token-for-tests"}
    )
    assert response.status_code == 200
    assert response.json["ok"] and response.json["databases"]["fresh"] == {
        **response.json["databases"]["fresh"],
        "ok": True,
        "relations": 1,
    }
    assert client.get("/db/fresh/api/parcels").json == []
    assert state.primary.reloader.count == 1 and state.databases["fresh"].reloader.count == 1


def test_sighup_and_notify_reload_named_databases(fresh_named, eventually):
    app, state, run = fresh_named
    fresh = state.databases["fresh"]
    state.request_reload("SIGHUP")
    assert eventually(lambda: fresh.reloader.count == 1 and state.reloader.count == 1)
    assert eventually(lambda: fresh.reloader.listening)
    run("CREATE TABLE notified (id int PRIMARY KEY)")
    run("NOTIFY pgfront, 'reload schema'")
    assert eventually(lambda: fresh.reloader.count == 2)
    assert state.reloader.count == 1  # the notice was sent in the named database only
    assert app.test_client().get("/db/fresh/api/notified").status_code == 200


def test_ready_and_metrics_report_each_database(client):
    ready = client.get("/ready").json
    assert ready["status"] == "ready"
    shapes = ready["databases"]["shapes"]
    assert shapes["database"] == "ok" and shapes["listening"] is True
    assert shapes["catalog"]["schemas"] == SHAPES_SCHEMAS.split(",")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'pgfront_catalog_relations{database="shapes"} ' in metrics
    assert 'pgfront_pool_size{database="shapes"} ' in metrics


def test_closing_the_app_closes_every_engine(
    make_app, shapes_database_url, database_url, eventually
):
    name = "pgfront-close-test"
    app = make_app(
        DB_APPLICATION_NAME=name, DATABASES={"shapes": _url(shapes_database_url, "warehouse")}
    )
    client = app.test_client()
    assert client.get("/api/books?limit=1").status_code == 200
    assert client.get("/db/shapes/api/categories?limit=1").status_code == 200
    both = {database_url.database, shapes_database_url.database}
    assert _backends(database_url, name) == both
    app.extensions["pgfront"].close()
    assert eventually(lambda: _backends(database_url, name) == set())


# ---------------------------------------------------------------------------
# Hand-written views pick a database by name
# ---------------------------------------------------------------------------


def test_a_view_picks_a_database_by_name(multi_app):
    with multi_app.test_request_context("/"):
        multi_app.preprocess_request()
        assert current_database().is_primary
        shapes = database("shapes")
        sites = shapes.catalog.tables["warehouse.sites"]
        with shapes.session() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(sites)) > 0
            assert Session() is session  # inside the block, the scoped Session is this one
        books = current_catalog().tables.books  # and outside it, the request's database again
        assert Session.scalar(sa.select(sa.func.count()).select_from(books)) > 0
        assert database("main") is multi_app.extensions["pgfront"].primary
        assert shapes.models().Products.__table__ is shapes.catalog.tables["warehouse.products"]
        with pytest.raises(LookupError, match="nope"):
            database("nope")


def test_a_failed_start_closes_what_was_opened(
    make_app, shapes_database_url, database_url, eventually
):
    from webapp.config import ConfigError

    name = "pgfront-failed-start"
    with pytest.raises(ConfigError, match="DATABASES missing names schemas"):
        make_app(
            DB_APPLICATION_NAME=name,
            DATABASES={
                "shapes": _url(shapes_database_url, "warehouse"),
                "missing": _url(shapes_database_url, "no_such_schema"),
            },
        )
    assert eventually(lambda: _backends(database_url, name) == set())


def _backends(url, application_name: str) -> set[str]:
    """The databases the server has connections of this application_name (or name-listen) to."""
    with psycopg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False)
    ) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_stat_activity WHERE application_name LIKE %s",
            (f"{application_name}%",),
        )
        return {row[0] for row in rows}
