"""paginate(): pages by number or keyset, a cap the request cannot lift, a total only when asked."""

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask import Blueprint, request

from webapp.models import current_models
from webapp.paging import Pagination, paginate
from webapp.state import current_catalog


def _body(page: Pagination, key: str) -> dict:
    return {
        "items": [getattr(item, key) for item in page.items],
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
        "pages": page.pages,
        "has_next": page.has_next,
        "has_prev": page.has_prev,
        "next_num": page.next_num,
        "prev_num": page.prev_num,
        "next_url": page.next_url,
        "prev_url": page.prev_url,
    }


@pytest.fixture(scope="module")
def paging_app(make_app):
    """An app with views that page members, under /probe and /api/probe."""
    app = make_app(keep=True)
    for prefix in ("/probe", "/api/probe"):
        app.register_blueprint(_probes(prefix), name=f"paging{prefix.replace('/', '_')}")
    return app


def _probes(prefix):
    bp = Blueprint("paging", __name__, url_prefix=prefix)

    @bp.get("/members/<int:branch_id>")
    def members(branch_id):
        table = current_catalog().tables.members
        stmt = sa.select(table.c.id, table.c.full_name).where(table.c.home_branch_id == branch_id)
        page = paginate(
            stmt.order_by(table.c.id),
            max_per_page=int(request.args.get("cap", 100)),
            count="count" in request.args,
        )
        return _body(page, "id")

    @bp.get("/by-joined/<int:branch_id>")
    def by_joined(branch_id):
        table = current_catalog().tables.members
        stmt = sa.select(table.c.id, table.c.joined_at).where(table.c.home_branch_id == branch_id)
        keys = [sa.desc(table.c.joined_at), table.c.id]
        return _body(paginate(stmt, keyset=keys, count="count" in request.args), "id")

    @bp.get("/by-name/<int:branch_id>")
    def by_name(branch_id):
        table = current_catalog().tables.members
        stmt = sa.select(table.c.id, table.c.full_name).where(table.c.home_branch_id == branch_id)
        return _body(paginate(stmt, keyset=[table.c.full_name, table.c.id]), "id")

    @bp.get("/objects")
    def objects():
        Members = current_models().Members
        page = paginate(sa.select(Members).where(Members.active.is_(False)), keyset=Members.id)
        assert all(isinstance(item, Members) for item in page)
        return _body(page, "id")

    return bp


@pytest.fixture
def paging_client(paging_app, isolate):
    isolate(paging_app)
    return paging_app.test_client()


def _ids(engine, sql, **params):
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(sa.text(sql), params)]


def _member_ids(engine, branch_id=1):
    return _ids(engine, "SELECT id FROM members WHERE home_branch_id = :b ORDER BY id", b=branch_id)


def test_pages_by_number_from_the_query_string(paging_client, engine):
    ids = _member_ids(engine)
    body = paging_client.get("/probe/members/1?page=2&per_page=5&keep=me").json
    assert body["items"] == ids[5:10]
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (2, 5, None, None)
    assert (body["has_prev"], body["has_next"], body["prev_num"], body["next_num"]) == (
        True,
        True,
        1,
        3,
    )
    next_query = parse_qs(urlsplit(body["next_url"]).query)
    assert urlsplit(body["next_url"]).path == "/probe/members/1"
    assert next_query == {"page": ["3"], "per_page": ["5"], "keep": ["me"]}


def test_defaults_and_the_last_page(paging_client, engine):
    ids = _member_ids(engine)
    first = paging_client.get("/probe/members/1").json
    assert first["items"] == ids[:20] and first["has_prev"] is False and first["prev_url"] is None
    last_number = -(-len(ids) // 20)
    last = paging_client.get(f"/probe/members/1?page={last_number}&count").json
    assert last["items"] == ids[(last_number - 1) * 20 :]
    assert last["has_next"] is False and last["next_url"] is None
    assert (last["total"], last["pages"]) == (len(ids), last_number)


def test_the_request_cannot_lift_the_cap(paging_client):
    assert paging_client.get("/probe/members/1?per_page=100000").json["per_page"] == 100
    assert len(paging_client.get("/probe/members/1?per_page=100000&cap=7").json["items"]) == 7


def test_the_total_only_when_asked(paging_client, engine):
    assert paging_client.get("/probe/members/1?per_page=3").json["total"] is None
    counted = paging_client.get("/probe/members/1?per_page=3&count").json
    assert counted["total"] == len(_member_ids(engine))
    assert counted["pages"] == -(-counted["total"] // 3)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("page=0", 400),
        ("page=abc", 400),
        ("per_page=-1", 400),
        ("page=²", 400),
        ("page=9999", 404),
        ("page=" + "9" * 4301, 400),  # past what Python's int() converts
        ("per_page=" + "9" * 4301, 400),
    ],
)
def test_bad_numbers_and_pages_past_the_end(paging_client, query, status):
    response = paging_client.get(f"/api/probe/members/1?{query}")
    assert response.status_code == status
    assert response.mimetype == "application/json"
    html = paging_client.get(f"/probe/members/1?{query}")
    assert html.status_code == status and html.mimetype == "text/html"


def _walk(client, url, direction):
    pages = []
    while url:
        body = client.get(url).json
        pages.append(body["items"])
        url = body[direction]
    return pages


def test_keyset_walks_every_row_once_both_ways(paging_client, engine):
    expected = _ids(
        engine,
        "SELECT id FROM members WHERE home_branch_id = 2 ORDER BY joined_at DESC, id",
    )
    forwards = _walk(paging_client, "/probe/by-joined/2?per_page=40", "next_url")
    assert [member for page in forwards for member in page] == expected
    assert len(forwards) == -(-len(expected) // 40)
    last = paging_client.get("/probe/by-joined/2?per_page=40").json
    while last["next_url"]:
        last = paging_client.get(last["next_url"]).json
    backwards = _walk(paging_client, last["prev_url"], "prev_url")
    assert backwards == forwards[-2::-1]


def test_keyset_counts_only_when_asked(paging_client, engine):
    first = paging_client.get("/probe/by-joined/2?per_page=10").json
    assert first["total"] is None and first["page"] is None and first["has_prev"] is False
    second = paging_client.get(first["next_url"] + "&count").json
    assert second["total"] == len(_member_ids(engine, 2))
    assert second["has_prev"] is True


@pytest.mark.parametrize("cursor", ["nonsense", "WzFd", "WyJ4IiwiMiJd", "W10"])
def test_an_altered_cursor_is_a_400(paging_client, cursor):
    response = paging_client.get(f"/api/probe/by-joined/2?after={cursor}")
    assert response.status_code == 400
    assert "cursor" in response.json["message"]


@pytest.mark.parametrize("name", ["\ud800", "a\udfffb", "\u0000"])
def test_a_cursor_holding_text_no_database_takes_is_a_400(paging_client, name):
    """A lone surrogate (JSON's \\ud800) or a NUL inside a well-formed cursor of a text key."""
    spec = "full_name.asc,id.asc"  # the keys by_name pages by, as the cursor names them
    cursor = base64.urlsafe_b64encode(json.dumps([spec, [name, "1"]]).encode()).decode()
    cursor = cursor.rstrip("=")
    for direction in ("after", "before"):
        response = paging_client.get(f"/api/probe/by-name/2?{direction}={cursor}")
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
        assert response.json["message"]


def test_a_cursor_made_for_other_keys_is_a_400(paging_client):
    """A cursor of by-joined's keys (joined_at desc, id) sent to by-name (full_name, id)."""
    first = paging_client.get("/probe/by-joined/2?per_page=5").json
    cursor = parse_qs(urlsplit(first["next_url"]).query)["after"][0]
    response = paging_client.get(f"/api/probe/by-name/2?after={cursor}")
    assert response.status_code == 400
    assert "cursor" in response.json["message"]


def test_after_and_before_together_is_a_400(paging_client):
    first = paging_client.get("/probe/by-joined/2?per_page=5").json
    cursor = parse_qs(urlsplit(first["next_url"]).query)["after"][0]
    assert (
        paging_client.get(f"/api/probe/by-joined/2?after={cursor}&before={cursor}").status_code
        == 400
    )


def test_keyset_over_objects(paging_client, engine):
    expected = _ids(engine, "SELECT id FROM members WHERE NOT active ORDER BY id")
    pages = _walk(paging_client, "/probe/objects?per_page=50", "next_url")
    assert [member for page in pages for member in page] == expected


def test_outside_a_request_the_caller_says_which_page(paging_app, engine):
    with paging_app.app_context():
        branches = current_catalog().tables.branches
        page = paginate(sa.select(branches.c.name).order_by(branches.c.name), page=2, per_page=4)
        names = _ids(engine, "SELECT name FROM branches ORDER BY name")
        assert [row.name for row in page] == names[4:8]
        assert page.next_url is None and page.prev_url is None  # no request to link from


@pytest.mark.parametrize(
    ("page", "pages", "shown"),
    [
        (1, 1, [1]),
        (1, 5, [1, 2, 3, 4, 5]),
        (9, 31, [1, 2, None, 7, 8, 9, 10, 11, 12, 13, None, 30, 31]),
        (30, 31, [1, 2, None, 28, 29, 30, 31]),
    ],
)
def test_iter_pages(page, pages, shown):
    pagination = Pagination([1], page, 10, pages * 10, page < pages, page > 1)
    assert list(pagination.iter_pages()) == shown
    assert (pagination.first, pagination.last) == ((page - 1) * 10 + 1, (page - 1) * 10 + 1)
