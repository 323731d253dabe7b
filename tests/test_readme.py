"""The README's examples (and those of docs/) run as written; its links lead somewhere."""

import re
import shlex
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from documentation import DOC_PATHS, DOCS, PROJECT_DIR, README, code_blocks, headings, section

from db.session import Session
from webapp.config import ConfigError
from webapp.models import current_models
from webapp.state import current_catalog

PYTHON_BLOCKS = code_blocks("python")


def _block(marker):
    (block,) = [block for block in PYTHON_BLOCKS if marker in block]
    return block


def test_readme_starts_with_the_two_commands():
    commands = re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)[:2]
    assert "run.py" in commands[0] and "[embedded]" in commands[0]
    assert "pytest" in commands[1] and "[test]" in commands[1]
    ci = (PROJECT_DIR / ".ci" / "run").read_text()
    assert commands[1] in ci
    assert README.index(commands[1]) < README.index("## ")  # before any section


def test_then_how_to_activate_the_venv_and_which_postgresql_versions():
    before_any_section = README[: README.index("## ")]
    assert code_blocks("sh", before_any_section)[2] == ". .venv/bin/activate\n"
    assert "Supported PostgreSQL versions: 15 to 18." in before_any_section
    ci = (PROJECT_DIR / ".ci" / "run").read_text()
    assert "TEST_PG_BIN=/usr/lib/postgresql/15/bin" in ci  # the oldest, tested


def _curl(line):
    """A README curl line as (path, headers): its URL less the host, and each -H."""
    words = shlex.split(line)
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    (url,) = [word for word in words if word.startswith("http://127.0.0.1:8000/")]
    return url.removeprefix("http://127.0.0.1:8000"), headers


def test_the_tour_api_calls_answer_as_the_tour_says(client):
    lines = code_blocks("sh", section("The API"))[0].splitlines()
    embedded, csv, counted, openapi = [
        client.get(path, headers=headers) for path, headers in map(_curl, lines)
    ]
    assert embedded.status_code == 200 and len(embedded.json) == 3
    assert all(set(book["authors"]) == {"name"} for book in embedded.json)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.text.splitlines()[0] == "name,opened_on" and len(csv.text.splitlines()) > 1
    assert counted.status_code == 206
    assert re.fullmatch(r"0-1/\d+", counted.headers["Content-Range"])
    assert openapi.status_code == 200 and openapi.json["openapi"].startswith("3.1")


def _anchor(title):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def test_every_relative_link_leads_to_a_file_and_its_heading():
    broken = []
    for path in DOC_PATHS:
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # http:, https:, mailto:
            name, _, anchor = target.partition("#")
            linked = (path.parent / name).resolve() if name else path
            if not linked.exists():
                broken.append(f"{path.name}: {target} (no such file)")
            elif anchor and anchor not in {_anchor(h[2]) for h in headings(linked.read_text())}:
                broken.append(f"{path.name}: {target} (no such heading)")
    assert broken == []


# "Your own views": a newcomer saves the example where the README says, and it is served.
OWN_VIEW = _block('json_errors(Blueprint("reports"')


def _check_own_view(app, engine):
    client = app.test_client()
    response = client.get("/reports/late-members")
    assert response.status_code == 200
    rows = response.json
    assert 0 < len(rows) <= 20
    assert [row["late"] for row in rows] == sorted((row["late"] for row in rows), reverse=True)
    with engine.connect() as conn:
        member_id, name, late = conn.execute(
            sa.text(
                "SELECT m.id, m.full_name, count(*) FROM members m JOIN loans l"
                " ON l.member_id = m.id AND l.returned_at IS NULL AND l.due_on < current_date"
                " GROUP BY m.id ORDER BY m.id LIMIT 1"
            )
        ).one()
    own = client.get(f"/reports/members/{member_id}/late").json
    assert own["member"] == name and len(own["late"]) == late
    for missing in ("/reports/members/999999/late", "/reports/no-such-report"):
        response = client.get(missing)  # JSON errors: the blueprint opted in
        assert response.status_code == 404 and response.mimetype == "application/json"
        assert set(response.json) == {"code", "message", "details", "hint"}


def test_own_view_saved_in_webapp_views(views_file, make_app, engine):
    views_file("late_members", OWN_VIEW)
    _check_own_view(make_app(), engine)


def test_own_view_in_a_package_named_by_blueprints(team_package, monkeypatch, make_app, engine):
    (team_package / "reports.py").write_text(OWN_VIEW)
    monkeypatch.setenv("BLUEPRINTS", "myteam.reports:bp")
    _check_own_view(make_app(), engine)


def test_own_view_errors_read_as_the_readme_shows(views_file, monkeypatch, make_app):
    not_found, broken = re.findall(r"^error: (.*)$", DOCS, flags=re.M)
    monkeypatch.setenv("BLUEPRINTS", "myteam.reports:bp")  # and no such package
    with pytest.raises(ConfigError) as raised:
        make_app()
    assert str(raised.value) == not_found
    monkeypatch.delenv("BLUEPRINTS")
    views_file("late_members", OWN_VIEW.replace("from webapp.errors import json_errors\n", ""))
    with pytest.raises(ConfigError) as raised:
        make_app()
    assert str(raised.value) == broken


def test_script_example(database_url):
    url = database_url.render_as_string(hide_password=False)
    code = _block("session_scope(bind=engine)").replace(
        "postgresql://user:password@localhost/library", url
    )
    namespace = {"__name__": "readme_example"}
    exec(code, namespace)
    engine = namespace["engine"]
    assert engine.pool.checkedout() == 0
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM book_popularity")).scalar() > 0
    engine.dispose()


# "Coming from Flask-SQLAlchemy": every example runs as written.


def _exec(marker):
    namespace = {"__name__": "readme_example"}
    exec(_block(marker), namespace)
    return namespace


@pytest.fixture
def env_database(monkeypatch, database_url):
    """The settings an example's create_app() reads from the environment."""
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))
    monkeypatch.setenv("DB_SCHEMAS", "public,reporting")
    monkeypatch.setenv("RELOAD_CHANNEL", "")


def test_view_helpers_example(make_app):
    app = make_app()
    app.register_blueprint(_exec('Blueprint("authors"')["bp"])
    client = app.test_client()
    first = client.get("/authors/1?per_page=2").json
    assert first["name"] and len(first["books"]) == 2
    assert first["books"] == sorted(first["books"])
    assert "page=2" in first["next"] and "per_page=2" in first["next"]
    assert len(client.get("/authors/1?per_page=500").json["books"]) <= 50
    missing = client.get("/authors/999999")
    assert missing.status_code == 404 and missing.mimetype == "text/html"


def test_naming_hook_example(env_database):
    app = _exec("class SingularNaming")["app"]
    try:
        with app.app_context():
            models = current_models()
            assert models.Book.__table__.name == "books"
            assert {"Copy", "Branch", "Member", "ReportingLoanEvent"} <= set(dir(models))
    finally:
        app.extensions["pgfront"].close()


def test_outside_app_context_example(env_database, engine, capsys):
    app = _exec("app = create_app()  # reads")["app"]
    app.extensions["pgfront"].close()
    with engine.connect() as conn:
        books = conn.execute(sa.text("SELECT count(*) FROM books")).scalar()
    assert capsys.readouterr().out.strip() == str(books)


def test_background_job_example_leaves_nothing_open(make_app, engine):
    app = make_app(DB_APPLICATION_NAME="pgfront-readme-job")
    app.register_blueprint(_exec('Blueprint("jobs"')["bp"])
    pool = app.extensions["pgfront"].engine.pool
    checked_in = pool.checkedin()
    response = app.test_client().post("/jobs/refresh-popularity")
    assert response.status_code == 202
    for thread in threading.enumerate():
        if thread.name == "refresh-popularity":
            thread.join(timeout=30)
    assert pool.checkedout() == 0 and pool.checkedin() >= checked_in
    with engine.connect() as conn:
        states = conn.execute(
            sa.text("SELECT state FROM pg_stat_activity WHERE application_name = :n"),
            {"n": "pgfront-readme-job"},
        ).scalars()
        assert set(states) <= {"idle"}  # connections back in the pool, none in a transaction


def test_rollback_example(make_app, isolate):
    app = make_app()
    example = _exec('Blueprint("branches"')
    app.register_blueprint(example["bp"])
    isolate(app)
    client = app.test_client()
    assert client.post("/branches", json={"name": "Seaside"}).status_code == 201
    assert client.post("/branches", json={"name": "Seaside"}).status_code == 409
    assert client.post("/branches", json={"name": "Lakeside"}).status_code == 201
    with app.app_context():
        branches = current_catalog().tables.branches
        session = Session()
        assert example["add_branch_or_note"](session, branches, "Harbour") == "taken"
        assert example["add_branch_or_note"](session, branches, "Hilltop") == "added"
        names = Session.scalars(sa.select(branches.c.name)).all()
        assert {"Seaside", "Lakeside", "Hilltop"} <= set(names)


def test_bulk_statement_example(make_app, isolate):
    app = make_app()
    isolate(app)
    with app.app_context():
        _exec("def open_popup_branches")["open_popup_branches"](100)
        tables = current_catalog().tables
        popups = sa.select(sa.func.count()).where(tables.branches.c.name.like("Pop-up %"))
        assert Session.scalar(popups) == 100
        lapsed = sa.select(tables.members.c.max_loans).where(tables.members.c.active.is_(False))
        assert set(Session.scalars(lapsed)) == {0}


def test_select_example(app, engine):
    with app.app_context():
        titles = _exec("def poetry_titles")["poetry_titles"]()
    with engine.connect() as conn:
        poems = conn.execute(sa.text("SELECT count(*) FROM books WHERE genre = 'poetry'")).scalar()
    assert len(titles) == poems > 0


def test_tests_example_leaves_nothing_behind(client, db_connection, engine):
    _exec("def test_new_branch_is_not_kept")["test_new_branch_is_not_kept"](client, db_connection)
    with engine.connect() as conn:  # another connection: the test's rows were never committed
        kept = conn.execute(sa.text("SELECT count(*) FROM branches WHERE name = 'Test Branch'"))
        assert kept.scalar() == 0


def test_recorded_queries_example(make_app):
    app = make_app(RECORD_QUERIES="true")
    app.after_request(_exec("def name_the_slowest_query")["name_the_slowest_query"])
    response = app.test_client().get("/api/books?limit=1")
    assert re.fullmatch(r"\d+\.\dms [\w.]+:\d+ \(\w+\)", response.headers["X-Slowest-Query"])


def test_every_python_example_is_run_by_a_test():
    source = Path(__file__).read_text()
    markers = re.findall(r'_(?:block|exec)\((\'[^\']+\'|"[^"]+")\)', source)
    markers = [marker[1:-1].replace('\\"', '"') for marker in markers]
    for block in PYTHON_BLOCKS:
        assert sum(marker in block for marker in markers) == 1, block[:80]


def test_several_databases_example(make_app, shapes_database_url):
    url = shapes_database_url.set(query={"schemas": "warehouse"})
    app = make_app(DATABASES={"warehouse": url.render_as_string(hide_password=False)})
    app.register_blueprint(_exec('Blueprint("stock"')["bp"])
    response = app.test_client().get("/stock/low")
    assert response.status_code == 200
    levels = [row["on_hand"] for row in response.json]
    assert levels and levels == sorted(levels) and max(levels) < 10


def test_no_merge_conflict_markers_are_left_in_the_docs():
    """A merge that kept both sides' markers would publish them."""
    for path in DOC_PATHS:
        lines = path.read_text().splitlines()
        markers = [line for line in lines if line.startswith(("<<<<<<< ", ">>>>>>> "))]
        assert markers == [], path.name
