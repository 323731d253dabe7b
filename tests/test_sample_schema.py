"""The sample schema in sql/ exercises what real schemas have."""

import pytest
import sqlalchemy as sa


def _scalar(engine, query, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(query), params).scalar()


@pytest.mark.parametrize(
    ("what", "query"),
    [
        (
            "two schemas",
            "SELECT count(*) = 2 FROM pg_namespace WHERE nspname IN ('public', 'reporting')",
        ),
        (
            "identity key",
            "SELECT bool_or(attidentity <> '') FROM pg_attribute WHERE attrelid = 'loans'::regclass",
        ),
        (
            "uuid key",
            "SELECT format_type(atttypid, NULL) = 'uuid' FROM pg_attribute WHERE attrelid = 'books'::regclass AND attname = 'id'",
        ),
        (
            "composite primary key",
            "SELECT array_length(conkey, 1) = 2 FROM pg_constraint WHERE conrelid = 'copies'::regclass AND contype = 'p'",
        ),
        (
            "self-reference",
            "SELECT count(*) = 2 FROM pg_constraint WHERE contype = 'f' AND conrelid = confrelid",
        ),
        ("enum", "SELECT count(*) > 0 FROM pg_type WHERE typname = 'genre' AND typtype = 'e'"),
        (
            "domain",
            "SELECT count(*) > 0 FROM pg_type WHERE typname = 'email_address' AND typtype = 'd'",
        ),
        (
            "check constraints",
            "SELECT count(*) >= 5 FROM pg_constraint WHERE contype = 'c' AND connamespace = 'public'::regnamespace",
        ),
        ("unique constraints", "SELECT count(*) >= 2 FROM pg_constraint WHERE contype = 'u'"),
        ("view", "SELECT to_regclass('overdue_loans') IS NOT NULL"),
        (
            "materialized view",
            "SELECT count(*) = 1 FROM pg_matviews WHERE matviewname = 'book_popularity'",
        ),
        ("table comment", "SELECT obj_description('books'::regclass, 'pg_class') IS NOT NULL"),
        ("column comment", "SELECT col_description('books'::regclass, 1) IS NOT NULL"),
        ("tens of thousands of rows", "SELECT count(*) >= 20000 FROM loans"),
        ("overdue loans today", "SELECT count(*) > 0 FROM overdue_loans"),
    ],
)
def test_sample_has(engine, what, query):
    assert _scalar(engine, query), what


def test_column_types_cover_the_list(engine):
    with engine.connect() as conn:
        types = set(
            conn.execute(
                sa.text(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute a"
                    " JOIN pg_class c ON c.oid = a.attrelid"
                    " WHERE c.relnamespace IN ('public'::regnamespace, 'reporting'::regnamespace)"
                    " AND attnum > 0"
                )
            ).scalars()
        )
    for needed in (
        "numeric(8,2)",
        "timestamp with time zone",
        "date",
        "interval",
        "boolean",
        "jsonb",
        "text[]",
        "bytea",
        "tsvector",
        "genre",
        "email_address",
    ):
        assert needed in types, needed


def test_every_foreign_key_has_an_index(engine):
    unindexed = _scalar(
        engine,
        """
        SELECT count(*) FROM pg_constraint k
        WHERE k.contype = 'f' AND k.conparentid = 0 AND NOT EXISTS (
            SELECT 1 FROM pg_index i
            WHERE i.indrelid = k.conrelid
              AND (i.indkey::int2[])[0:array_length(k.conkey, 1) - 1] = k.conkey
        )
        """,
    )
    assert unindexed == 0
