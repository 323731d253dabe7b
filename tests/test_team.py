"""The team view: the branch report links each branch's page, which pages its loans by keyset."""

import re

import pytest
import sqlalchemy as sa
from flask import Blueprint, abort

from db.session import Session
from webapp.config import ConfigError
from webapp.errors import json_errors
from webapp.lookups import get_or_404


def _branch(db_connection, name):
    return db_connection.execute(
        sa.text("SELECT id FROM branches WHERE name = :n"), {"n": name}
    ).scalar()


def _loan_ids(html):
    return [int(n) for n in re.findall(r'<tr><td class="num">(\d+)</td>', html)]


def _link(html, rel):
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_report_links_every_branch_page(client, db_connection):
    html = client.get("/team/branches").get_data(as_text=True)
    harbour = _branch(db_connection, "Harbour")
    assert f'<a href="/team/branches/{harbour}">Harbour</a>' in html
    assert html.count('href="/team/branches/') == 6


def test_branch_page_pages_its_loans_newest_first(client, db_connection):
    harbour = _branch(db_connection, "Harbour")
    expected = (
        db_connection.execute(
            sa.text(
                "SELECT l.id FROM loans l JOIN copies c ON (c.book_id, c.copy_no) = (l.book_id, l.copy_no)"
                " WHERE c.branch_id = :b ORDER BY l.loaned_at DESC, l.id DESC"
            ),
            {"b": harbour},
        )
        .scalars()
        .all()
    )
    first = client.get(f"/team/branches/{harbour}")
    html = first.get_data(as_text=True)
    assert first.status_code == 200
    assert "<h1>Harbour</h1>" in html and "Port Ellis" in html
    assert f"({len(expected):,})" in html  # the total, counted
    assert _loan_ids(html) == expected[:20]
    assert _link(html, "prev") is None
    second = client.get(_link(html, "next")).get_data(as_text=True)
    assert _loan_ids(second) == expected[20:40]
    back = client.get(_link(second, "prev")).get_data(as_text=True)
    assert _loan_ids(back) == expected[:20]


def test_branch_page_size_is_capped(client, db_connection):
    harbour = _branch(db_connection, "Harbour")
    html = client.get(f"/team/branches/{harbour}?per_page=5000").get_data(as_text=True)
    assert len(_loan_ids(html)) == 100
    assert "per_page=5000" in _link(html, "next")  # the query string is kept


def test_unknown_branch_is_a_404_html_or_json(client):
    page = client.get("/team/branches/999999")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "no row of public.branches has id=999999" in page.get_data(as_text=True)
    as_json = client.get("/team/branches/999999", headers={"Accept": "application/json"})
    assert as_json.status_code == 404 and as_json.json["code"] == "HTTP404"


def test_report_command(app, db_connection):
    result = app.test_cli_runner().invoke(args=["team", "report"])
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.output.splitlines()]
    expected = db_connection.execute(sa.text("SELECT name FROM branches ORDER BY name"))
    assert names == [name.split()[0] for name in expected.scalars()]
    assert app.extensions["pgfront"].engine.pool.checkedout() <= 1  # only the test's own
    assert not Session.registry.has()


# The home of team views: webapp/views/, the BLUEPRINTS setting, create_app(blueprints=).

GREETING = """
from flask import Blueprint

bp = Blueprint("{name}", __name__, url_prefix="/{name}")


@bp.get("/hello")
def hello():
    return {{"hello": "{name}"}}
"""


def test_a_file_dropped_into_webapp_views_is_served(views_file, make_app):
    views_file("zz_test_dropped", GREETING.format(name="dropped"))
    response = make_app().test_client().get("/dropped/hello")
    assert response.status_code == 200 and response.json == {"hello": "dropped"}


def test_every_blueprint_of_a_views_module_in_name_order(views_file, make_app):
    two = GREETING.format(name="second") + GREETING.format(name="first").replace("bp", "other")
    views_file("zz_test_b", two + "_draft = Blueprint('draft', __name__, url_prefix='/draft')\n")
    views_file("zz_test_a", GREETING.format(name="alone"))
    app = make_app()
    names = list(app.blueprints)
    assert names.index("team") < names.index("alone") < names.index("second") < names.index("first")
    assert "draft" not in names  # a name starting with _ is the module's own
    assert app.test_client().get("/first/hello").json == {"hello": "first"}


def test_a_views_module_that_fails_to_import_names_itself(views_file, make_app):
    views_file("zz_test_broken", "import flask\n\nreports = flask.Blueprint(nope, __name__)\n")
    with pytest.raises(ConfigError) as raised:
        make_app()
    assert str(raised.value) == (
        "team view module webapp.views.zz_test_broken does not import: "
        "NameError: name 'nope' is not defined (zz_test_broken.py, line 3)"
    )


def test_blueprints_setting_serves_views_of_another_package(team_package, make_app):
    (team_package / "reports.py").write_text(GREETING.format(name="reports"))
    (team_package / "stock.py").write_text(GREETING.format(name="stock"))
    app = make_app(BLUEPRINTS="myteam.reports:bp, myteam.stock:bp")
    client = app.test_client()
    assert client.get("/reports/hello").json == {"hello": "reports"}
    assert client.get("/stock/hello").json == {"hello": "stock"}
    assert client.get("/team/branches").status_code == 200  # webapp/views/ still counts


def test_create_app_takes_blueprint_objects(make_app):
    bp = Blueprint("given", __name__, url_prefix="/given")
    bp.get("/hello")(lambda: {"hello": "given"})
    app = make_app(blueprints=[bp])
    assert app.test_client().get("/given/hello").json == {"hello": "given"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "nosuch_team.reports:bp",
            "BLUEPRINTS entry 'nosuch_team.reports:bp' does not import: "
            "ModuleNotFoundError: No module named 'nosuch_team'",
        ),
        ("myteam.reports:nope", "BLUEPRINTS entry 'myteam.reports:nope': no Blueprint 'nope'"),
        (
            "myteam.reports:hello",
            "BLUEPRINTS entry 'myteam.reports:hello' is a function, not a Blueprint",
        ),
        (
            "myteam.reports",
            "BLUEPRINTS='myteam.reports' must list module:attribute entries, "
            "not 'myteam.reports', e.g. myteam.reports:bp",
        ),
    ],
)
def test_a_bad_blueprints_entry_stops_startup_with_one_line(team_package, make_app, entry, message):
    (team_package / "reports.py").write_text(GREETING.format(name="reports"))
    with pytest.raises(ConfigError) as raised:
        make_app(BLUEPRINTS=entry)
    assert str(raised.value) == message


def test_a_blueprint_name_already_taken_stops_startup(team_package, make_app):
    (team_package / "api.py").write_text(GREETING.format(name="api"))
    with pytest.raises(ConfigError) as raised:
        make_app(BLUEPRINTS="myteam.api:bp")
    assert str(raised.value).startswith(
        "team view blueprint 'api' of myteam.api cannot be registered: The name 'api' is already"
    )


def test_team_views_stay_at_the_root(make_app, database_url):
    app = make_app(DATABASES={"again": database_url.render_as_string(hide_password=False)})
    client = app.test_client()
    assert client.get("/db/again/api/branches?limit=1").status_code == 200
    assert client.get("/team/branches").status_code == 200
    assert client.get("/db/again/team/branches").status_code == 404


# JSON errors for JSON views outside /api: json_errors(bp).


def _json_views(opt_in):
    bp = Blueprint("jsonviews", __name__, url_prefix="/jsonviews")
    if opt_in:
        json_errors(bp)

    @bp.get("/branches/<int:branch_id>")
    def branch(branch_id):
        return {"name": get_or_404("branches", branch_id).name}

    @bp.get("/refused")
    def refused():
        abort(400, "a bad thing")

    @bp.get("/broken")
    def broken():
        raise RuntimeError("a bug")

    return bp


def test_json_errors_make_a_blueprints_errors_json(make_app):
    client = make_app(blueprints=[_json_views(opt_in=True)]).test_client()
    missing = client.get("/jsonviews/branches/999999")
    assert missing.status_code == 404 and missing.mimetype == "application/json"
    assert set(missing.json) == {"code", "message", "details", "hint"}
    assert "no row of public.branches has id=999999" in missing.json["message"]
    refused = client.get("/jsonviews/refused")
    assert refused.status_code == 400 and refused.json["message"] == "a bad thing"
    broken = client.get("/jsonviews/broken")
    assert broken.status_code == 500 and broken.json["code"] == "PGRST000"
    assert "a bug" not in broken.get_data(as_text=True)
    unknown = client.get("/jsonviews/no-such-view")  # under its prefix, though no view matched
    assert unknown.status_code == 404 and unknown.json["code"] == "HTTP404"
    wrong_method = client.post("/jsonviews/refused")
    assert wrong_method.status_code == 405 and wrong_method.json["code"] == "HTTP405"
    assert client.get("/jsonviewsx").mimetype == "text/html"  # another URL, another prefix
    assert client.get("/team/branches/999999").mimetype == "text/html"  # other views as before


def test_without_json_errors_a_blueprint_answers_html(make_app):
    client = make_app(blueprints=[_json_views(opt_in=False)]).test_client()
    missing = client.get("/jsonviews/branches/999999")
    assert missing.status_code == 404 and missing.mimetype == "text/html"


def test_the_sample_branch_report_answers_anonymous_visitors(make_app):
    """As web_anon (the embedded sample's anonymous role) the team view's report is served;
    loans' borrowers stay out of reach."""
    client = make_app(DB_ANON_ROLE="web_anon").test_client()
    report = client.get("/team/branches")
    assert report.status_code == 200
    assert b"Central" in report.data
    assert client.get("/api/loans?select=id,due_on&limit=1").status_code == 200
    assert client.get("/api/loans?limit=1").status_code == 401  # select=* names member_id
    assert client.get("/api/loans?select=member_id&limit=1").status_code == 401
