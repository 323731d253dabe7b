"""Functions reflected per catalog snapshot (db/functions.py): what is served, and how it is described."""

from db.functions import Parameter


def _one(app, name):
    (function,) = app.extensions["pgfront"].catalogs.current.functions[("public", name)]
    return function


def test_parameters_defaults_and_volatility(app):
    renew = _one(app, "renew_loan")
    assert renew.parameters == (
        Parameter("loan_id", "bigint", "i", False),
        Parameter("days", "integer", "i", True),
    )
    assert renew.required == {"loan_id"}
    assert renew.volatility == "volatile" and not renew.read_only
    assert renew.returns_relation == ("public", "loans") and not renew.returns_set
    assert renew.comment.startswith("Push an open loan")
    search = _one(app, "search_books")
    assert (
        search.read_only and search.returns_set and search.returns_relation == ("public", "books")
    )
    assert search.signature() == "public.search_books(q text) RETURNS SETOF books"


def test_result_kinds(app):
    stats = _one(app, "copies_per_branch")
    assert stats.columns == (("branch_id", "integer"), ("branch", "text"), ("copies", "bigint"))
    assert stats.returns_set and stats.returns_relation is None
    assert _one(app, "return_copy").returns_void
    whoami = _one(app, "whoami")
    assert whoami.return_type == "jsonb" and not whoami.returns_rows
    (variadic,) = _one(app, "tagged").inputs
    assert variadic.variadic and variadic.type_name == "text[]"


def test_overloads_share_a_name(app):
    overloads = app.extensions["pgfront"].catalogs.current.functions[("public", "book_count")]
    assert sorted(f.inputs[0].name for f in overloads) == ["by_author", "of_genre"]


def test_what_is_not_served(app):
    functions = app.extensions["pgfront"].catalogs.current.functions
    names = {name for _, name in functions}
    assert not any(name.startswith("citext") for name in names)  # an extension's own
    assert ("pgfront", "notify_schema_change") not in functions  # an event trigger, unserved schema
    assert all(schema in ("public", "reporting") for schema, _ in functions)


def test_hidden_names_a_function(make_app):
    app = make_app(HIDDEN="public.whoami,public.book_count")
    catalog = app.extensions["pgfront"].catalogs.current
    assert ("public", "whoami") not in catalog.functions
    assert ("public", "book_count") not in catalog.functions  # every overload
    assert not catalog.hiding.dangling  # a function's name is no dangling entry
    assert ("public", "search_books") in catalog.functions


def test_a_function_returning_a_hidden_table_is_hidden(make_app):
    catalog = make_app(HIDDEN="public.loans").extensions["pgfront"].catalogs.current
    assert ("public", "renew_loan") not in catalog.functions
    assert ("public", "search_books") in catalog.functions
