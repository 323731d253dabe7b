"""The team view: the branch report links each branch's page, which pages its loans by keyset."""

import re

import sqlalchemy as sa

from db.session import Session


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
