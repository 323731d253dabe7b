"""get_or_404, first_or_404, one_or_404: rows and objects, and 404s rendered by route."""

import pytest
import sqlalchemy as sa
from flask import Blueprint, request

from db.session import Session
from webapp.errors import ApiError
from webapp.lookups import first_or_404, get_or_404, one_or_404
from webapp.models import current_models
from webapp.state import current_catalog


@pytest.fixture(scope="module")
def lookup_app(make_app):
    """An app with probe views, under /probe (HTML errors) and /api/probe (JSON errors)."""
    app = make_app(keep=True, HIDDEN="public.members.email")
    for prefix in ("/probe", "/api/probe"):
        app.register_blueprint(_probes(prefix), name=f"probe{prefix.replace('/', '_')}")
    return app


def _probes(prefix):
    bp = Blueprint("lookups", __name__, url_prefix=prefix)

    @bp.get("/branch/<int:branch_id>")
    def branch(branch_id):
        return {"name": get_or_404(current_catalog().tables.branches, branch_id).name}

    @bp.get("/copy")
    def copy():
        key = (request.args["book_id"], int(request.args["copy_no"]))
        row = get_or_404("copies", key, description="no such copy")
        return {"branch_id": row.branch_id}

    @bp.get("/member/<int:member_id>")
    def member(member_id):
        return sorted(get_or_404(current_catalog().relation("members"), member_id)._fields)

    @bp.get("/book-object/<book_id>")
    def book_object(book_id):
        book = get_or_404(current_models().Books, book_id)
        return {"title": book.title, "author": book.author.name}

    @bp.get("/first-late-member")
    def first_late_member():
        members = current_catalog().tables.members
        stmt = sa.select(members.c.full_name).where(members.c.max_loans == int(request.args["max"]))
        return {"name": first_or_404(stmt.order_by(members.c.id)).full_name}

    @bp.get("/one-branch")
    def one_branch():
        branches = current_catalog().tables.branches
        stmt = sa.select(branches).where(branches.c.city.like(request.args["city"]))
        return {"name": one_or_404(stmt).name}

    return bp


@pytest.fixture
def lookup_client(lookup_app, isolate):
    isolate(lookup_app)
    return lookup_app.test_client()


def _a_copy(connection):
    return connection.execute(
        sa.text("SELECT book_id::text, copy_no, branch_id FROM copies ORDER BY 1, 2 LIMIT 1")
    ).one()


def test_get_or_404_by_key(lookup_client, engine):
    with engine.connect() as conn:
        harbour = conn.execute(sa.text("SELECT id FROM branches WHERE name = 'Harbour'")).scalar()
        copy = _a_copy(conn)
    assert lookup_client.get(f"/probe/branch/{harbour}").json == {"name": "Harbour"}
    found = lookup_client.get(f"/probe/copy?book_id={copy.book_id}&copy_no={copy.copy_no}")
    assert found.json == {"branch_id": copy.branch_id}


@pytest.mark.parametrize(
    ("prefix", "mimetype"), [("/probe", "text/html"), ("/api/probe", "application/json")]
)
def test_a_miss_is_a_404_rendered_by_route(lookup_client, prefix, mimetype):
    response = lookup_client.get(f"{prefix}/branch/999999")
    assert response.status_code == 404
    assert response.mimetype == mimetype
    assert "no row of public.branches has id=999999" in response.get_data(as_text=True)


def test_a_miss_on_a_composite_key_says_the_description(lookup_client):
    book_id = "00000000-0000-0000-0000-000000000000"
    response = lookup_client.get(f"/api/probe/copy?book_id={book_id}&copy_no=1")
    assert response.status_code == 404
    assert response.json["message"] == "no such copy"


def test_a_relation_leaves_hidden_columns_out(lookup_client):
    fields = lookup_client.get("/probe/member/1").json
    assert "full_name" in fields and "email" not in fields


def test_get_or_404_with_a_class_gives_an_object(lookup_client, engine):
    with engine.connect() as conn:
        book_id, title, author = conn.execute(
            sa.text(
                "SELECT b.id::text, b.title, a.name FROM books b JOIN authors a"
                " ON a.id = b.author_id ORDER BY b.title LIMIT 1"
            )
        ).one()
    assert lookup_client.get(f"/probe/book-object/{book_id}").json == {
        "title": title,
        "author": author,
    }
    missing = lookup_client.get("/api/probe/book-object/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.json["message"].startswith("no Books has key")


@pytest.mark.parametrize(
    "key",
    [("a", 1, 2), {"book_id": "x"}, {"book_id": "x", "copy_no": 1, "extra": 2}, "just-one"],
)
def test_a_key_that_does_not_fit_is_a_programming_error(lookup_app, key):
    with lookup_app.app_context(), pytest.raises(TypeError, match="keyed by"):
        get_or_404("copies", key)


def test_a_table_without_primary_key_cannot_be_got(lookup_app):
    with lookup_app.app_context(), pytest.raises(TypeError, match="no primary key"):
        get_or_404("overdue_loans", 1)


def test_first_or_404(lookup_client, engine):
    with engine.connect() as conn:
        expected = conn.execute(
            sa.text("SELECT full_name FROM members WHERE max_loans = 5 ORDER BY id LIMIT 1")
        ).scalar()
    assert lookup_client.get("/probe/first-late-member?max=5").json == {"name": expected}
    missing = lookup_client.get("/api/probe/first-late-member?max=21")  # the check allows <= 20
    assert missing.status_code == 404 and missing.json["message"] == "nothing matches"


def test_first_or_404_keeps_a_limit_and_offset_of_its_own(lookup_app):
    with lookup_app.app_context():
        branches = current_catalog().tables.branches
        ordered = sa.select(branches.c.name).order_by(branches.c.name)
        names = [row.name for row in _session_rows(ordered)]
        assert first_or_404(ordered.offset(2).limit(3)).name == names[2]
        with pytest.raises(ApiError) as caught:
            first_or_404(ordered.limit(0))
        assert caught.value.status == 404


def _session_rows(stmt):
    return Session.execute(stmt).all()


def test_one_or_404(lookup_client):
    assert lookup_client.get("/probe/one-branch?city=Kingsford").json == {"name": "University"}
    missing = lookup_client.get("/api/probe/one-branch?city=Atlantis")
    assert missing.status_code == 404


def test_one_or_404_with_several_rows_is_a_server_error(lookup_client, lookup_app):
    response = lookup_client.get("/api/probe/one-branch?city=%25")  # every branch matches
    assert response.status_code == 500
    assert response.json["code"] == "PGRST000"
    with lookup_app.app_context(), pytest.raises(sa.exc.MultipleResultsFound):
        one_or_404(sa.select(current_catalog().tables.branches))


def test_statements_of_one_class_give_objects(lookup_app):
    with lookup_app.app_context():
        Branches = current_models().Branches
        first = first_or_404(sa.select(Branches).order_by(Branches.name))
        assert isinstance(first, Branches)
        assert one_or_404(sa.select(Branches).where(Branches.id == first.id)) is first
        row = first_or_404(sa.select(Branches.name, Branches.city).order_by(Branches.name))
        assert isinstance(row, sa.Row) and row.name == first.name
