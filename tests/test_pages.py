"""The HTML index, the table page, the team view and HTML errors."""

import re
from urllib.parse import parse_qsl

import sqlalchemy as sa


def test_index_lists_schemas_with_estimates(client, db_connection):
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Schema <code>public</code>" in html and "Schema <code>reporting</code>" in html
    estimate = db_connection.execute(
        sa.text("SELECT reltuples::bigint FROM pg_class WHERE oid = 'public.loans'::regclass")
    ).scalar()
    assert estimate > 10000
    assert f"{estimate:,}" in html
    assert 'href="/browse/public/loans"' in html
    assert "materialized view" in html and "partitioned table" in html


def test_table_page_pages_and_filters(client):
    first = client.get("/browse/public/branches?order=name")
    html = first.get_data(as_text=True)
    assert first.status_code == 200
    assert "Central" in html and "University" in html
    filtered = client.get("/browse/public/branches?name=eq.Harbour").get_data(as_text=True)
    assert "Harbour" in filtered and "Riverside" not in filtered
    loans = client.get("/browse/public/loans").get_data(as_text=True)
    assert 'rel="next"' in loans and 'rel="prev"' not in loans
    # A view has no key to page by: it pages by offset and numbers its rows.
    second = client.get("/browse/public/overdue_loans?limit=20&offset=20").get_data(as_text=True)
    assert "Rows 21–40" in second and 'rel="prev"' in second


def test_markup_in_values_is_escaped(client, db_connection):
    db_connection.execute(
        sa.text("UPDATE branches SET city = '<script>alert(1)</script>' WHERE name = 'Central'")
    )
    html = client.get("/browse/public/branches").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_team_view_report(client, db_connection):
    html = client.get("/team/branches").get_data(as_text=True)
    shown = {
        name: (int(on_loan), int(overdue))
        for name, on_loan, overdue in re.findall(
            r"<tr><td>([^<]+)</td><td>[^<]*</td><td class=\"num\">\d+</td>"
            r"<td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td></tr>",
            html,
        )
    }
    expected = db_connection.execute(
        sa.text(
            "SELECT b.name, count(l.id), count(l.id) FILTER (WHERE l.due_on < current_date)"
            " FROM branches b LEFT JOIN copies c ON c.branch_id = b.id"
            " LEFT JOIN loans l ON l.book_id = c.book_id AND l.copy_no = c.copy_no"
            " AND l.returned_at IS NULL GROUP BY b.name"
        )
    ).all()
    assert shown == {name: (on_loan, overdue) for name, on_loan, overdue in expected}
    assert sum(overdue for _, overdue in shown.values()) > 0


def test_unknown_page_is_html_error(client):
    response = client.get("/browse/public/nothing_here")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "nothing_here" in response.get_data(as_text=True)


def test_paging_links_keep_every_filter(client):
    html = client.get("/browse/public/authors?name=like.*a*&id=gt.1&id=lt.700").get_data(
        as_text=True
    )
    assert 'rel="next"' in html
    next_link = re.search(r'href="([^"]+)" rel="next"', html)[1].replace("&amp;", "&")
    path, _, query = next_link.partition("?")
    assert path == "/browse/public/authors"
    pairs = parse_qsl(query)
    assert pairs[:3] == [("name", "like.*a*"), ("id", "gt.1"), ("id", "lt.700")]
    assert [key for key, _ in pairs[3:]] == ["_after"]


def test_schema_with_a_dot_is_a_404(client):
    assert client.get("/browse/a.b/books").status_code == 404
