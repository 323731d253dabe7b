"""The row page: values by type, labelled links out, time-boxed counts of the rows linking in."""

import base64
import html as htmllib
import re
from urllib.parse import quote

import pytest
import sqlalchemy as sa


def test_row_page_shows_links_both_ways(client, db_connection):
    member_id, name = db_connection.execute(
        sa.text(
            "SELECT id, full_name FROM members WHERE referred_by IS NOT NULL ORDER BY id LIMIT 1"
        )
    ).one()
    html = client.get(f"/browse/public/members/row?id={member_id}").get_data(as_text=True)
    assert f"<code>id={member_id}</code>" in html and htmllib.escape(name) in html
    loans = db_connection.execute(
        sa.text("SELECT count(*) FROM loans WHERE member_id = :id"), {"id": member_id}
    ).scalar()
    link = (
        f'<a href="/browse/public/loans?member_id=eq.{member_id}">{loans} rows in public.loans</a>'
    )
    assert link in html
    # The referrer is an outgoing link, labelled with the referrer's name.
    referrer, referrer_name = db_connection.execute(
        sa.text(
            "SELECT r.id, r.full_name FROM members m JOIN members r ON r.id = m.referred_by"
            " WHERE m.id = :id"
        ),
        {"id": member_id},
    ).one()
    assert f'href="/browse/public/members/row?id={referrer}">public.members</a>' in html
    assert htmllib.escape(referrer_name) in html


def test_incoming_counts_are_capped(make_app, db_connection):
    member_id = db_connection.execute(
        sa.text("SELECT member_id FROM loans GROUP BY 1 HAVING count(*) > 5 LIMIT 1")
    ).scalar()
    app = make_app(PAGE_COUNT_LIMIT="5")
    with app.test_client() as client:
        html = client.get(f"/browse/public/members/row?id={member_id}").get_data(as_text=True)
    assert "More than 5 rows in public.loans</a>" in html


def test_row_twin_agrees_with_the_api(client, db_connection):
    book = db_connection.execute(sa.text("SELECT id FROM books ORDER BY id LIMIT 1")).scalar()
    twin = client.get(f"/browse/public/books/row?id={book}&_format=json").get_json()
    api = client.get(
        f"/api/books?id=eq.{book}", headers={"Accept": "application/vnd.pgrst.object+json"}
    ).get_json()
    assert twin["row"] == api
    assert [fk["target"] for fk in twin["foreign_keys"]] == ["public.authors"]
    assert {ref["source"] for ref in twin["referenced_by"]} >= {"public.copies"}


def test_values_are_rendered_by_type(shapes_client, shapes_database_url):
    engine = sa.create_engine(shapes_database_url)
    try:
        with engine.connect() as conn:
            sku, image = conn.execute(
                sa.text(
                    "SELECT sku, image FROM warehouse.products"
                    " WHERE image IS NOT NULL AND attributes IS NOT NULL AND tags <> '{}'"
                    " ORDER BY sku LIMIT 1"
                )
            ).one()
    finally:
        engine.dispose()
    url = f"/browse/warehouse/products/row?sku={quote(sku, safe='')}"
    response = shapes_client.get(url)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r"<pre>\{\n  ", html), "jsonb pretty-printed"
    assert re.search(r"<ol start=\"1\"><li>", html), "arrays as lists"
    assert f"{len(image):,} bytes" in html and "download" in html
    assert re.search(r"<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", html), "timestamps in ISO 8601"
    download = re.search(r'href="([^"]+)" download>download</a>', html)[1]
    blob = shapes_client.get(htmllib.unescape(download))
    assert blob.status_code == 200 and blob.data == bytes(image)
    assert blob.headers["Content-Disposition"].startswith("attachment;")
    api = shapes_client.get(f"/api/products?sku=eq.{quote(sku, safe='')}&select=image").get_json()
    assert base64.b64decode(api[0]["image"]) == bytes(image)


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/browse/public/loans/row", 400),  # no key
        ("/browse/public/loans/row?id=abc", 400),  # not an integer
        ("/browse/public/loans/row?id=999999999", 404),  # no such row
        ("/browse/public/overdue_loans/row?id=1", 404),  # a view has no row pages
        ("/browse/public/copies/row?book_id=00000000-0000-0000-0000-000000000000", 400),
        ("/browse/public/loans/row/nope?id=1", 400),  # no such column to download
    ],
)
def test_bad_row_requests(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    assert response.mimetype == "text/html"


def test_booleans_read_as_postgresql_writes_them(client, db_connection):
    member = db_connection.execute(sa.text("SELECT id FROM members WHERE active LIMIT 1")).scalar()
    html = client.get(f"/browse/public/members/row?id={member}").get_data(as_text=True)
    assert '<span class="text">true</span>' in html and "True" not in html
    grid = client.get("/browse/public/members?active=is.true&limit=5").get_data(as_text=True)
    assert ">true</td>" in grid and ">True<" not in grid


def test_row_page_lists_many_to_many_neighbours(client, db_connection):
    member = db_connection.execute(
        sa.text("SELECT member_id FROM wishlist GROUP BY 1 HAVING count(*) = 3 ORDER BY 1 LIMIT 1")
    ).scalar()
    wishes = db_connection.execute(
        sa.text(
            "SELECT b.id, b.title FROM wishlist w JOIN books b ON b.id = w.book_id"
            " WHERE w.member_id = :m ORDER BY b.id"
        ),
        {"m": member},
    ).all()
    html = client.get(f"/browse/public/members/row?id={member}").get_data(as_text=True)
    section = html[html.index("public.books through") :]
    section = section[: section.index("</section>")]
    links = re.findall(r'<a href="/browse/public/books/row\?id=([^"]+)">', section)
    assert links == [str(book) for book, _ in wishes]
    assert all(htmllib.escape(title) in section for _, title in wishes)
    assert f'href="/browse/public/wishlist?member_id=eq.{member}"' in section
    twin = client.get(f"/browse/public/members/row?id={member}&_format=json").get_json()
    (books,) = [rel for rel in twin["many_to_many"] if rel["junction"] == "public.wishlist"]
    assert [row["label"] for row in books["rows"]] == [title for _, title in wishes]


def test_many_to_many_neighbours_are_capped(client, db_connection):
    html = client.get("/browse/public/reading_groups/row?id=1").get_data(as_text=True)
    section = html[html.index("public.members through") :]
    section = section[: section.index("</section>")]
    assert section.count('href="/browse/public/members/row?id=') == 20  # of 40 members
    assert (
        '<a href="/browse/public/reading_group_members?group_id=eq.1">'
        "More in public.reading_group_members</a>"
    ) in section


def test_neighbours_the_role_may_not_read_are_a_note_not_an_error(make_app, db_connection):
    book = db_connection.execute(sa.text("SELECT book_id FROM wishlist LIMIT 1")).scalar()
    client = make_app(DB_ANON_ROLE="web_anon").test_client()  # no grant on wishlist
    response = client.get(f"/browse/public/books/row?id={book}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    section = html[html.index("public.members through") :]
    assert "Not listed (not permitted)" in section[: section.index("</section>")]
