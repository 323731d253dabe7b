"""The `postgrest` Python client, unchanged, against the API served by waitress."""

import pytest
import sqlalchemy as sa
from postgrest import SyncPostgrestClient


@pytest.fixture
def postgrest(served_api):
    """The Python client on the API that waitress serves in this process."""
    client = SyncPostgrestClient(served_api)
    yield client
    client.session.close()


def test_select_filter_order_range(postgrest):
    result = (
        postgrest.from_("branches")
        .select("id,name", count="exact")
        .neq("name", "Central")
        .order("id", desc=True)
        .range(0, 2)
        .execute()
    )
    assert [row["name"] for row in result.data] == ["University", "Old Town", "Harbour"]
    assert result.count == 5
    either = (
        postgrest.from_("branches").select("name").or_("name.eq.Central,name.eq.Harbour").execute()
    )
    assert sorted(row["name"] for row in either.data) == ["Central", "Harbour"]
    listed = postgrest.from_("branches").select("name").in_("id", [1, 2]).execute()
    assert len(listed.data) == 2


def test_single_and_other_schema(postgrest):
    harbour = postgrest.from_("branches").select("*").eq("name", "Harbour").single().execute()
    assert harbour.data["name"] == "Harbour"
    targets = postgrest.schema("reporting").from_("branch_targets").select("*").limit(3).execute()
    assert len(targets.data) == 3


def test_insert_upsert_update_delete(postgrest):
    created = postgrest.from_("branches").insert({"name": "Seaside", "city": "Portsea"}).execute()
    assert created.data[0]["name"] == "Seaside"
    upserted = (
        postgrest.from_("branches")
        .upsert([{"name": "Harbour", "city": "New Port"}], on_conflict="name")
        .execute()
    )
    assert upserted.data[0]["city"] == "New Port"
    updated = (
        postgrest.from_("branches").update({"phone": "+1 555"}).eq("name", "Seaside").execute()
    )
    assert updated.data[0]["phone"] == "+1 555"
    deleted = postgrest.from_("branches").delete().eq("name", "Seaside").execute()
    assert deleted.data[0]["name"] == "Seaside"
    left = postgrest.from_("branches").select("name").eq("name", "Seaside").execute()
    assert left.data == []


def test_embedding_through_the_client(postgrest):
    books = postgrest.from_("books").select("title, authors(name)").order("isbn").limit(2).execute()
    assert all(book["authors"]["name"] for book in books.data)
    authors = postgrest.from_("authors").select("name, books(title)").eq("id", 1).execute()
    assert authors.data[0]["books"] and all(book["title"] for book in authors.data[0]["books"])


def test_rpc_through_the_client(postgrest):
    found = (
        postgrest.rpc("search_books", {"q": "archive"}, count="exact")
        .select("title,pages")
        .gt("pages", 100)
        .order("title", desc=True)
        .limit(3)
        .execute()
    )
    assert len(found.data) == 3 and found.count > 3
    assert all(row["pages"] > 100 for row in found.data)
    assert [row["title"] for row in found.data] == sorted(
        (row["title"] for row in found.data), reverse=True
    )
    poetry = postgrest.rpc("book_count", {"of_genre": "poetry"}).execute()
    assert isinstance(poetry.data, int) and poetry.data > 0
    central = postgrest.rpc("copies_per_branch", {}, get=True).eq("branch", "Central").execute()
    assert [row["branch"] for row in central.data] == ["Central"]
    tagged = postgrest.rpc("tagged", {"wanted": ["signed"]}).select("tags").limit(2).execute()
    assert all("signed" in row["tags"] for row in tagged.data)


def test_inner_embed_spread_and_null_filter_through_the_client(postgrest, db_connection):
    with_cards = db_connection.execute(
        sa.text(
            "SELECT count(*) FROM members m WHERE EXISTS (SELECT FROM member_cards c WHERE c.member_id = m.id)"
        )
    ).scalar_one()
    inner = (
        postgrest.from_("members")
        .select("id, member_cards!inner(card_no)", count="exact")
        .order("id")
        .limit(2)
        .execute()
    )
    assert inner.count == with_cards and all(row["member_cards"] for row in inner.data)
    without = (
        postgrest.from_("members")
        .select("id, member_cards()")
        .is_("member_cards", "null")
        .order("id")
        .limit(3)
        .execute()
    )
    assert without.data and all(set(row) == {"id"} for row in without.data)
    spread = postgrest.from_("books").select("title, ...authors(name)").limit(2).execute()
    assert all(set(row) == {"title", "name"} for row in spread.data)


def test_full_text_and_json_paths_through_the_client(postgrest, db_connection):
    expected = db_connection.execute(
        sa.text("SELECT count(*) FROM books WHERE search @@ plainto_tsquery('english', 'secret')")
    ).scalar_one()
    found = (
        postgrest.from_("books")
        .select("isbn", count="exact")
        .text_search("search", "secret", {"type": "plain", "config": "english"})
        .limit(1)
        .execute()
    )
    assert found.count == expected and expected > 0
    paths = (
        postgrest.from_("books")
        .select("isbn, city:details->publisher->>city")
        .eq("details->>language", "en")
        .limit(2)
        .execute()
    )
    assert all(set(row) == {"isbn", "city"} for row in paths.data)
