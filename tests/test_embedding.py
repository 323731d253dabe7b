"""Embedding related rows: both directions, hints, nesting, per-embed reads, and no N+1."""

import csv
import io
import json

import pytest
import sqlalchemy as sa


@pytest.fixture
def statements(db_connection):
    """The SQL statements the app runs during the test (through the outer connection)."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            seen.append(statement)

    sa.event.listen(db_connection, "before_cursor_execute", record)
    yield seen
    sa.event.remove(db_connection, "before_cursor_execute", record)


def test_many_to_one(client, db_connection):
    response = client.get("/api/books?select=title,authors(name,country)&order=isbn&limit=5")
    assert response.status_code == 200, response.json
    expected = (
        db_connection.execute(
            sa.text(
                "SELECT a.name FROM books b JOIN authors a ON a.id = b.author_id ORDER BY b.isbn LIMIT 5"
            )
        )
        .scalars()
        .all()
    )
    assert [row["authors"]["name"] for row in response.json] == expected
    assert set(response.json[0]) == {"title", "authors"}
    assert set(response.json[0]["authors"]) == {"name", "country"}


def test_one_to_many_with_its_own_order_limit_and_filter(client, db_connection):
    author = db_connection.execute(
        sa.text(
            "SELECT author_id FROM books GROUP BY author_id HAVING count(*) >= 4 ORDER BY 1 LIMIT 1"
        )
    ).scalar()
    titles = (
        db_connection.execute(
            sa.text(
                "SELECT title FROM books WHERE author_id = :a AND pages > 100 ORDER BY title DESC LIMIT 2 OFFSET 1"
            ),
            {"a": author},
        )
        .scalars()
        .all()
    )
    response = client.get(
        f"/api/authors?select=name,books(title)&id=eq.{author}"
        "&books.order=title.desc&books.limit=2&books.offset=1&books.pages=gt.100"
    )
    assert [book["title"] for book in response.json[0]["books"]] == titles


def test_alias_hint_and_composite_keys_nested(client, db_connection):
    response = client.get(
        "/api/loans?select=id,item:copies!loans_book_id_copy_no_fkey(copy_no,branches(name))&order=id&limit=3"
    )
    assert response.status_code == 200, response.json
    expected = db_connection.execute(
        sa.text(
            "SELECT c.copy_no, br.name FROM loans l JOIN copies c USING (book_id, copy_no)"
            " JOIN branches br ON br.id = c.branch_id ORDER BY l.id LIMIT 3"
        )
    ).all()
    assert [(r["item"]["copy_no"], r["item"]["branches"]["name"]) for r in response.json] == [
        tuple(row) for row in expected
    ]


def test_self_reference_needs_and_takes_a_hint(client, db_connection):
    ambiguous = client.get("/api/books?select=title,books(title)&limit=1")
    assert ambiguous.status_code == 300 and ambiguous.json["code"] == "PGRST201"
    assert ambiguous.json["hint"] == (
        "Try changing 'books' to one of the following: 'books!sequel_of',"
        " 'books!books_sequel_of_fkey'. Find the desired relationship in the 'details' key."
    )
    sequel = db_connection.execute(
        sa.text(
            "SELECT b.isbn, p.title FROM books b JOIN books p ON p.id = b.sequel_of ORDER BY b.isbn LIMIT 1"
        )
    ).one()
    up = client.get(f"/api/books?select=title,prequel:books!sequel_of(title)&isbn=eq.{sequel.isbn}")
    assert up.status_code == 200, up.json
    assert up.json[0]["prequel"] == {"title": sequel.title}
    down = client.get(
        f"/api/books?select=title,sequels:books!books_sequel_of_fkey(isbn)&title=eq.{sequel.title}"
    )
    assert sequel.isbn in [s["isbn"] for row in down.json for s in row["sequels"]]


def test_other_schema_embeds_public_table(client):
    response = client.get(
        "/api/branch_targets?select=month,branches(name)&limit=2",
        headers={"Accept-Profile": "reporting"},
    )
    assert response.status_code == 200, response.json
    assert response.json[0]["branches"]["name"]


def test_one_query_per_embed_level(client, statements):
    response = client.get(
        "/api/authors?select=name,books(title,copies(copy_no,branches(name)))&limit=100"
    )
    assert response.status_code == 200
    assert sum(len(author["books"]) for author in response.json) > 100
    assert len(statements) == 4  # authors, books, copies, branches: never one per row


@pytest.mark.parametrize(
    ("select", "status", "code"),
    [
        ("name,authors(*)", 400, "PGRST200"),
        ("name,nothing(*)", 404, "42P01"),
        ("name,members!nope(*)", 400, "PGRST200"),
        ("name,members(nope)", 400, "42703"),
    ],
)
def test_embed_errors(client, select, status, code):
    response = client.get(f"/api/branches?select={select}")
    assert response.status_code == status
    assert response.json["code"] == code


def test_csv_with_embed(client):
    response = client.get(
        "/api/books?select=isbn,authors(name)&order=isbn&limit=2", headers={"Accept": "text/csv"}
    )
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["isbn", "authors"]
    assert json.loads(rows[1][1])["name"]


def test_embed_only_select_and_repeated_names(client):
    only = client.get("/api/books?select=authors(name)&order=isbn&limit=2")
    assert [set(row) for row in only.json] == [{"authors"}, {"authors"}]
    clash = client.get("/api/books?select=title,title:authors(name)")
    assert clash.status_code == 400 and "'title'" in clash.json["message"]


def test_nested_composite_embeds_at_scale(client, db_connection):
    capped = client.get("/api/branches?select=id,copies(book_id,copy_no,loans(id))")
    assert capped.status_code == 413 and "copies.limit" in capped.json["hint"]
    response = client.get(
        "/api/branches?select=id,copies(book_id,copy_no,loans(id))&copies.limit=300&order=id"
    )
    assert response.status_code == 200, response.json
    copies = response.json[0]["copies"]
    assert len(copies) == 300
    sample = copies[0]
    expected = db_connection.execute(
        sa.text("SELECT count(*) FROM loans WHERE book_id = :b AND copy_no = :c"),
        {"b": sample["book_id"], "c": sample["copy_no"]},
    ).scalar()
    assert len(sample["loans"]) == expected


def test_a_plain_to_one_embed_is_a_join_of_the_parent_statement(client, statements):
    response = client.get("/api/books?select=title,authors(name),prequel:books!sequel_of(title)")
    assert response.status_code == 200, response.json
    assert len(statements) == 1  # the authors and the prequel are LEFT JOINs, not queries
    assert "LEFT OUTER JOIN" in statements[0]


def test_joined_embeds_answer_as_separate_queries_do(client, db_connection, statements):
    """The same rows with the to-one embed joined and with it read by a query of its own."""
    joined = client.get(
        "/api/books?select=isbn,prequel:books!sequel_of(isbn,title),authors(*)&order=isbn"
    )
    # An order inside the embed makes it a query of its own: same rows, same keys, same order.
    separate = client.get(
        "/api/books?select=isbn,prequel:books!sequel_of(isbn,title),authors(*)&order=isbn"
        "&prequel.order=isbn&authors.order=id"
    )
    assert joined.status_code == separate.status_code == 200
    assert joined.get_data() == separate.get_data()
    rows = joined.json
    assert any(row["prequel"] is None for row in rows)  # no sequel_of: null, not {}
    assert any(row["prequel"] is not None for row in rows)
    assert list(rows[0]) == ["isbn", "prequel", "authors"]  # select= order, joined or not
    assert list(next(row["prequel"] for row in rows if row["prequel"])) == ["isbn", "title"]
    assert len(rows) == 1000  # a whole page at MAX_ROWS: the join adds no rows and loses none


def test_joined_and_separate_embeds_keep_the_select_order(client, statements):
    response = client.get(
        "/api/books?select=title,copies(copy_no),authors(name),prequel:books!sequel_of(title)"
        "&order=isbn&limit=3"
    )
    assert response.status_code == 200, response.json
    assert [list(row) for row in response.json] == [["title", "copies", "authors", "prequel"]] * 3
    assert len(statements) == 2  # books with authors and prequel joined, then the copies


# Many-to-many, one-to-one, views and ambiguity, on the tables of sql/008_relationships.sql.


def _wishes(db_connection, member_id):
    return set(
        db_connection.execute(
            sa.text(
                "SELECT b.title FROM wishlist w JOIN books b ON b.id = w.book_id"
                " WHERE w.member_id = :m"
            ),
            {"m": member_id},
        ).scalars()
    )


def test_many_to_many_through_a_junction_is_a_list(client, db_connection, statements):
    wishing, without = db_connection.execute(
        sa.text(
            "SELECT (SELECT member_id FROM wishlist GROUP BY 1 HAVING count(*) = 3 ORDER BY 1"
            " LIMIT 1), (SELECT min(id) FROM members m"
            " WHERE NOT EXISTS (SELECT FROM wishlist w WHERE w.member_id = m.id))"
        )
    ).one()
    before = len(statements)
    response = client.get(f"/api/members?select=id,books(title)&id=in.({wishing},{without})")
    assert len(statements) - before == 2  # the members, then the books through wishlist
    assert response.status_code == 200, response.json
    by_member = {row["id"]: row["books"] for row in response.json}
    assert {book["title"] for book in by_member[wishing]} == _wishes(db_connection, wishing)
    assert len(by_member[wishing]) == 3 and by_member[without] == []


def test_many_to_many_the_other_way_with_its_own_order_and_limit(client, db_connection):
    book = db_connection.execute(
        sa.text("SELECT book_id FROM wishlist GROUP BY 1 HAVING count(*) >= 2 ORDER BY 1 LIMIT 1")
    ).scalar()
    wishers = (
        db_connection.execute(
            sa.text("SELECT member_id FROM wishlist WHERE book_id = :b ORDER BY 1 DESC"),
            {"b": book},
        )
        .scalars()
        .all()
    )
    response = client.get(
        f"/api/books?select=title,members(id)&id=eq.{book}&members.order=id.desc&members.limit=1"
    )
    assert response.status_code == 200, response.json
    assert response.json[0]["members"] == [{"id": wishers[0]}]


def test_one_to_one_is_an_object_from_both_sides_or_null(client, db_connection):
    card = db_connection.execute(
        sa.text("SELECT card_no FROM member_cards WHERE member_id = 3")
    ).scalar()
    response = client.get("/api/members?select=id,member_cards(card_no)&id=in.(3,4)&order=id")
    assert response.status_code == 200, response.json
    assert response.json == [
        {"id": 3, "member_cards": {"card_no": card}},
        {"id": 4, "member_cards": None},  # every fourth member has no card
    ]
    name = db_connection.execute(sa.text("SELECT full_name FROM members WHERE id = 3")).scalar()
    back = client.get("/api/member_cards?select=card_no,members(full_name)&member_id=eq.3")
    assert back.json == [{"card_no": card, "members": {"full_name": name}}]


def test_embedding_from_a_view(client, db_connection):
    """shelved_copies shows copies' keys: it embeds books, branches and loans as copies does."""
    response = client.get(
        "/api/shelved_copies?select=book_id,copy_no,books(title),branches(name),loans(id)"
        "&order=book_id,copy_no&limit=3"
    )
    assert response.status_code == 200, response.json
    expected = db_connection.execute(
        sa.text(
            "SELECT b.title, br.name,"
            " (SELECT count(*) FROM loans l WHERE (l.book_id, l.copy_no) = (c.book_id, c.copy_no))"
            " FROM copies c JOIN books b ON b.id = c.book_id JOIN branches br ON br.id = c.branch_id"
            " WHERE c.condition <> 'damaged' ORDER BY c.book_id, c.copy_no LIMIT 3"
        )
    ).all()
    assert [
        (row["books"]["title"], row["branches"]["name"], len(row["loans"])) for row in response.json
    ] == [tuple(row) for row in expected]


def test_embedding_into_a_view(client, db_connection):
    """A table embeds the view's rows that show its key: a list one way, an object the other."""
    book = db_connection.execute(
        sa.text(
            "SELECT c.book_id FROM copies c JOIN loans l USING (book_id, copy_no)"
            " WHERE c.condition = 'damaged' ORDER BY 1 LIMIT 1"
        )
    ).scalar()
    copies = dict(
        db_connection.execute(
            sa.text("SELECT copy_no, condition FROM copies WHERE book_id = :b"), {"b": book}
        ).all()
    )
    response = client.get(
        f"/api/books?select=id,shelved_copies(copy_no)&id=eq.{book}&shelved_copies.order=copy_no"
    )
    assert response.status_code == 200, response.json
    assert [c["copy_no"] for c in response.json[0]["shelved_copies"]] == sorted(
        number for number, condition in copies.items() if condition != "damaged"
    )
    loans = client.get(f"/api/loans?select=copy_no,shelved_copies(condition)&book_id=eq.{book}")
    assert loans.status_code == 200, loans.json
    # A loan of a damaged copy has no row in the view: null, as any to-one embed without a row.
    assert "damaged" in {copies[row["copy_no"]] for row in loans.json}
    assert all(
        row["shelved_copies"]
        == (None if copies[row["copy_no"]] == "damaged" else {"condition": copies[row["copy_no"]]})
        for row in loans.json
    )


AMBIGUOUS = {
    "code": "PGRST201",
    "message": "Could not embed because more than one relationship was found for"
    " 'reading_groups' and 'members'",
    "details": [
        {
            "cardinality": "many-to-one",
            "embedding": "reading_groups with members",
            "relationship": "reading_groups_leader_id_fkey using reading_groups(leader_id)"
            " and members(id)",
        },
        {
            "cardinality": "many-to-many",
            "embedding": "reading_groups with members",
            "relationship": "reading_group_members using"
            " reading_group_members_group_id_fkey(group_id) and"
            " reading_group_members_member_id_fkey(member_id)",
        },
    ],
    "hint": "Try changing 'members' to one of the following:"
    " 'members!reading_groups_leader_id_fkey', 'members!reading_group_members'."
    " Find the desired relationship in the 'details' key.",
}


def test_a_foreign_key_and_a_junction_to_the_same_table_are_ambiguous(client):
    response = client.get("/api/reading_groups?select=name,members(full_name)")
    assert response.status_code == 300
    assert response.json == AMBIGUOUS


@pytest.mark.parametrize(
    "hint", ["reading_groups_leader_id_fkey", "leader_id", "reading_group_members"]
)
def test_a_hint_picks_the_foreign_key_or_the_junction(client, db_connection, hint):
    response = client.get(f"/api/reading_groups?select=id,members!{hint}(id)&order=id")
    assert response.status_code == 200, response.json
    if hint == "reading_group_members":
        expected = db_connection.execute(
            sa.text(
                "SELECT group_id, array_agg(member_id ORDER BY member_id) FROM"
                " reading_group_members GROUP BY 1 ORDER BY 1"
            )
        ).all()
        assert [(row["id"], sorted(m["id"] for m in row["members"])) for row in response.json] == [
            (group, members) for group, members in expected
        ]
    else:
        leaders = db_connection.execute(
            sa.text("SELECT id, leader_id FROM reading_groups ORDER BY id")
        ).all()
        assert [(row["id"], row["members"]) for row in response.json] == [
            (group, {"id": leader}) for group, leader in leaders
        ]


def test_the_other_way_round_the_leader_and_the_groups_of_a_member(client, db_connection):
    leader = db_connection.execute(sa.text("SELECT leader_id FROM reading_groups WHERE id = 1"))
    leader = leader.scalar()
    ambiguous = client.get(f"/api/members?select=reading_groups(name)&id=eq.{leader}")
    assert ambiguous.status_code == 300 and len(ambiguous.json["details"]) == 2
    leads = client.get(f"/api/members?select=reading_groups!leader_id(id)&id=eq.{leader}")
    joined = client.get(
        f"/api/members?select=g:reading_groups!reading_group_members(id)&id=eq.{leader}"
    )
    assert leads.json == [{"reading_groups": [{"id": 1}]}]
    assert joined.json == [{"g": [{"id": 1}]}]  # a leader belongs to the group it leads


def test_many_to_many_embeds_share_the_embedded_rows_budget(make_app):
    client = make_app(MAX_EMBED_ROWS="100").test_client()
    response = client.get("/api/reading_groups?select=id,members!reading_group_members(id)")
    assert response.status_code == 413  # 4 groups of 40 members
    assert "MAX_EMBED_ROWS=100" in response.json["message"]
    capped = client.get(
        "/api/reading_groups?select=id,members!reading_group_members(id)&members.limit=25"
    )
    assert capped.status_code == 200 and [len(r["members"]) for r in capped.json] == [25] * 4


def test_no_many_to_many_through_a_hidden_junction(make_app):
    client = make_app(HIDDEN="public.wishlist").test_client()
    response = client.get("/api/members?select=id,books(title)&limit=1")
    assert response.status_code == 400 and response.json["code"] == "PGRST200"
    assert "wishlist" not in response.get_data(as_text=True)


def test_a_request_resolves_each_embeds_relationship_once(client, monkeypatch):
    """Three embeds, one nested and one read as a join: three lookups in the index, no more."""
    from db.relationships import RelationshipIndex

    calls = []
    find = RelationshipIndex.find

    def counted(self, *args, **kwargs):
        calls.append(args[:2])
        return find(self, *args, **kwargs)

    monkeypatch.setattr(RelationshipIndex, "find", counted)
    response = client.get(
        "/api/books?select=title,authors(name),copies(copy_no,branches(name))&limit=30"
    )
    assert response.status_code == 200, response.json
    assert any(row["copies"] for row in response.json)
    assert len(calls) == 3
