"""Automap classes: built from the catalog's own tables, named from foreign keys, new per snapshot."""

import logging
import warnings

import pytest
import sqlalchemy as sa

from db.catalog import reflect_catalog
from db.models import ModelNaming
from db.session import Session
from db.sqlfiles import apply_sql_dir
from webapp.models import current_models
from webapp.state import current_catalog

SAMPLE_CLASSES = {
    "Authors": {"books"},
    "Books": {"author", "sequel_of_books", "books", "copies", "wishlist"},
    "Branches": {"copies", "members", "reporting_branch_targets"},
    "Copies": {"book", "branch", "loans"},
    "Loans": {"member", "copies", "reporting_loan_events"},
    "MemberCards": {"member"},
    "Members": {
        "home_branch",
        "referred_by_members",
        "loans",
        "members",
        "member_cards",
        "wishlist",
        "reading_groups",
        "reading_group_members",
    },
    "ReadingGroupMembers": {"group", "member"},
    "ReadingGroups": {"leader", "reading_group_members"},
    "ReportingBranchTargets": {"branch"},
    "ReportingLoanEvents": {"loan"},
    "Wishlist": {"member", "book"},
}


def _relationships(cls):
    return {rel.key for rel in sa.inspect(cls).relationships}


def test_sample_schema_classes_and_relationship_names(app):
    with app.app_context():
        models = current_models()
        assert {cls.__name__: _relationships(cls) for cls in models} == SAMPLE_CLASSES
        catalog = current_catalog()
        assert models.Books.__table__ is catalog.table("books")  # the catalog's own Table
        assert models["reporting.loan_events"] is models.ReportingLoanEvents
        assert models["books"] is models.Books
        with pytest.raises(AttributeError, match="no mapped class 'Book'"):
            _ = models.Book
        with pytest.raises(KeyError):
            _ = models["overdue_loans"]  # views get no class


def test_relationships_load_the_right_rows(app, engine):
    with engine.connect() as conn:
        loan_id, member, branch, title = conn.execute(
            sa.text(
                "SELECT l.id, m.full_name, br.name, b.title FROM loans l"
                " JOIN members m ON m.id = l.member_id"
                " JOIN copies c ON (c.book_id, c.copy_no) = (l.book_id, l.copy_no)"
                " JOIN branches br ON br.id = c.branch_id JOIN books b ON b.id = l.book_id"
                " ORDER BY l.id LIMIT 1"
            )
        ).one()
        events = conn.execute(
            sa.text("SELECT count(*) FROM reporting.loan_events WHERE loan_id = :id"),
            {"id": loan_id},
        ).scalar()
    with app.app_context():
        Loans = current_models().Loans
        loan = Session.get(Loans, loan_id)
        assert (loan.member.full_name, loan.copies.branch.name) == (member, branch)
        assert loan.copies.book.title == title
        assert len(loan.reporting_loan_events) == events  # across schemas, to the search path
        assert all(event.loan is loan for event in loan.reporting_loan_events)


def test_classes_and_tables_mix_in_one_statement(app):
    with app.app_context():
        Books, authors = current_models().Books, current_catalog().tables.authors
        stmt = (
            sa.select(Books.title, authors.c.name)
            .join(authors, authors.c.id == Books.author_id)
            .order_by(Books.title)
            .limit(3)
        )
        assert len(Session.execute(stmt).all()) == 3


def test_one_set_of_classes_per_snapshot(app, database_url):
    state = app.extensions["pgfront"]
    catalog = state.catalogs.current
    assert catalog.models() is catalog.models()
    engine = sa.create_engine(database_url)
    try:
        other = reflect_catalog(engine, catalog.schemas)
    finally:
        engine.dispose()
    assert other.models().Books is not catalog.models().Books


@pytest.fixture
def reloading_app(pg_server, make_app, tmp_path):
    """An app on a database of its own, with a table named like the ORM's own attributes."""
    url = pg_server.create_database("pgfront_models")
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "001_t.sql").write_text(
        "CREATE TABLE shelves (id int PRIMARY KEY, label text NOT NULL);"
        "CREATE TABLE items (id int PRIMARY KEY, shelf_id int REFERENCES shelves, shelf text);"
        "CREATE TABLE documents (id int PRIMARY KEY, metadata jsonb);"
        "INSERT INTO shelves VALUES (1, 'A'); INSERT INTO items VALUES (1, 1, 'top');"
    )
    engine = sa.create_engine(url)
    apply_sql_dir(engine, sql_dir)
    app = make_app(
        DATABASE_URL=url.render_as_string(hide_password=False),
        DB_SCHEMAS="public",
        RELOAD_CHANNEL="",
    )
    yield app, engine
    engine.dispose()


def test_a_class_held_across_a_reload_still_works(reloading_app):
    app, engine = reloading_app
    state = app.extensions["pgfront"]
    with app.app_context():
        OldShelves = current_models().Shelves
        assert Session.get(OldShelves, 1).label == "A"
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE shelves ADD COLUMN room text DEFAULT 'hall'"))
    assert state.reloader.reload_now("test").ok
    with app.app_context():
        NewShelves = current_models().Shelves
        assert NewShelves is not OldShelves
        assert Session.get(NewShelves, 1).room == "hall"
        old = Session.scalars(sa.select(OldShelves)).one()  # the old class, after the swap
        assert old.label == "A" and not hasattr(old, "room")
        assert [item.shelf for item in old.items] == ["top"]


def test_names_clear_of_columns_and_reserved_words(reloading_app, caplog):
    app, _ = reloading_app
    with caplog.at_level(logging.WARNING, "db.models"), app.app_context():
        models = current_models()
        assert [cls.__name__ for cls in models] == ["Items", "Shelves"]
        # items.shelf is a column, so the key shelf_id names its relationship shelf_id_shelves.
        assert _relationships(models.Items) == {"shelf_id_shelves"}
        assert _relationships(models.Shelves) == {"items"}
    assert "public.documents gets no class: column ['metadata']" in caplog.text


def test_odd_shapes_map_without_warnings(shapes_app):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with shapes_app.app_context():
            models = current_models()
    names = {cls.__name__ for cls in models}
    assert {"Categories", "Products", "StockMoves", "QA150", "OpsDataScanners"} <= names
    assert "PriceHistory" not in names and "OpsDataAuditTrail" not in names  # no primary key
    assert {"parent", "categories", "products"} <= _relationships(models.Categories)
    assert {"from_site_sites", "to_site_sites", "products"} <= _relationships(models.StockMoves)
    assert {"stock_moves_by_from_site", "stock_moves_by_to_site"} <= _relationships(models.Sites)
    assert _relationships(models.Bins) == {"sites", "stock_levels"}  # two keys share site_code


def test_odd_shapes_query_through_relationships(shapes_app):
    with shapes_app.app_context():
        models = current_models()
        child = Session.scalars(
            sa.select(models.Categories).where(models.Categories.parent_id.is_not(None)).limit(1)
        ).one()
        assert child in child.parent.categories
        move = Session.scalars(
            sa.select(models.StockMoves).where(models.StockMoves.from_site.is_not(None)).limit(1)
        ).one()
        assert move.from_site_sites.code == move.from_site
        scan = Session.scalars(sa.select(models.OpsDataScans).limit(1)).one()
        assert scan.products.barcode == scan.barcode


class Singular(ModelNaming):
    """Book rather than Books; the referring table's name is kept for collections."""

    def class_name(self, table, default_schema):
        name = super().class_name(table, default_schema)
        for plural, singular in (("ies", "y"), ("ches", "ch"), ("sses", "ss"), ("s", "")):
            if name.endswith(plural):
                return name[: -len(plural)] + singular
        return name


def test_a_naming_hook_from_the_app_config(make_app):
    app = make_app(MODEL_NAMING=Singular())
    with app.app_context():
        models = current_models()
        assert {"Book", "Copy", "Branch", "ReportingLoanEvent"} <= set(dir(models))
        assert models.Copy.__table__.name == "copies"
        assert current_models() is models
        with pytest.raises(ValueError, match="named by Singular"):
            current_catalog().models()  # another naming over the same tables


def test_objects_print_their_table_and_primary_key(make_app):
    app = make_app(HIDDEN="public.members.email")
    with app.app_context():
        models = current_models()
        branch = Session.scalars(sa.select(models.Branches).order_by(models.Branches.id)).first()
        assert repr(branch) == f"<branches id={branch.id}>"
        book = Session.scalars(sa.select(models.Books).limit(1)).one()
        assert repr(book) == f"<books id={book.id}>"  # a uuid, as it reads
        copy = Session.scalars(sa.select(models.Copies).limit(1)).one()
        assert repr(copy) == f"<copies book_id={copy.book_id} copy_no={copy.copy_no}>"
        event = Session.scalars(sa.select(models.ReportingLoanEvents).limit(1)).one()
        assert repr(event) == (  # another schema than the default one: named with it
            f"<reporting.loan_events id={event.id} occurred_at={event.occurred_at.isoformat()}>"
        )
        assert repr([branch]) == f"[<branches id={branch.id}>]"  # as the shell prints a list


def test_printing_an_object_shows_no_other_column(make_app):
    app = make_app(HIDDEN="public.members.email")
    with app.app_context():
        Members = current_models().Members
        member = Session.scalars(sa.select(Members).limit(1)).one()
        shown = repr(member)
        assert shown == f"<members id={member.id}>"
        assert member.full_name not in shown and "@" not in shown
        Session.expire(member)  # printing never loads: not after expiry, nor once detached
        Session.expunge(member)
        assert repr(member) == shown
        assert repr(Members(full_name="New")) == "<members id=None>"  # not inserted yet
