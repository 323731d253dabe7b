"""Settings: defaults, overrides, and one clear line for a bad value."""

from pathlib import Path

import pytest

from webapp.config import (
    SETTINGS,
    ConfigError,
    describe_settings,
    load_settings,
)


def test_defaults_without_environment():
    settings = load_settings(environ={})
    assert settings.embedded
    assert settings.schemas == ("public", "reporting")
    assert (settings.host, settings.port, settings.threads) == ("127.0.0.1", 8000, 8)
    assert settings.pool_size >= settings.threads


def test_embedded_with_your_own_sql_dir_serves_public_by_default(tmp_path):
    settings = load_settings(environ={"SQL_DIR": str(tmp_path / "schema")})
    assert settings.embedded and settings.schemas == ("public",)


def test_external_database_serves_public_by_default():
    settings = load_settings(environ={"DATABASE_URL": "postgresql://u@db/x"})
    assert not settings.embedded
    assert settings.schemas == ("public",)


def test_config_wins_over_environment():
    settings = load_settings({"THREADS": "3"}, environ={"THREADS": "12", "DB_SCHEMAS": "a, b"})
    assert settings.threads == 3
    assert settings.pool_size == 5
    assert settings.schemas == ("a", "b")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("THREADS", "many", "THREADS='many' must be a whole number above 0, e.g. 8"),
        ("THREADS", "0", "THREADS='0' must be a whole number above 0, e.g. 8"),
        ("PORT", "70000", "PORT='70000' must be a whole number from 0 to 65535, e.g. 8000"),
        ("PORT", "http", "PORT='http' must be a whole number from 0 to 65535, e.g. 8000"),
        (
            "DB_SCHEMAS",
            " , ",
            "DB_SCHEMAS=' , ' must name at least one schema, e.g. public,reporting",
        ),
        ("DB_POOL_TIMEOUT", "-1", "DB_POOL_TIMEOUT='-1' must be a number above 0, e.g. 5.0"),
        ("DB_POOL_TIMEOUT", "nan", "DB_POOL_TIMEOUT='nan' must be a number above 0, e.g. 5.0"),
        (
            "DB_STATEMENT_TIMEOUT",
            "1.5s",
            "DB_STATEMENT_TIMEOUT='1.5s' must be a whole number, 0 or more, e.g. 15000",
        ),
        ("READ_ONLY", "maybe", "READ_ONLY='maybe' must be true or false, e.g. false"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL='loud' must be DEBUG, INFO, WARNING or ERROR, e.g. INFO"),
        (
            "HIDDEN",
            "members",
            "HIDDEN='members' must list schema.table or schema.table.column, not 'members', "
            "e.g. public.members.email",
        ),
        (
            "CONNECTION_LIMIT",
            "lots",
            "CONNECTION_LIMIT='lots' must be a whole number above 0, e.g. 1000",
        ),
        ("HEADER_TIMEOUT", "0", "HEADER_TIMEOUT='0' must be a number above 0, e.g. 10.0"),
        (
            "DATABASE_URL",
            "mysql://u:secret@h/d",
            "DATABASE_URL=(hidden) is not a postgresql://user:password@host:port/dbname URL",
        ),
        (
            "DATABASE_URL",
            "garbage",
            "DATABASE_URL=(hidden) is not a postgresql://user:password@host:port/dbname URL",
        ),
        (
            "DATABASE_URL",
            "postgresql://u:secret@h:notaport/d",
            "DATABASE_URL=(hidden) is not a postgresql://user:password@host:port/dbname URL",
        ),
    ],
)
def test_bad_values_name_the_setting(name, value, message):
    with pytest.raises(ConfigError) as info:
        load_settings(environ={name: value})
    assert str(info.value) == message


@pytest.mark.parametrize("value", ["", " ", "abc", "-1", "0", "1e999", "a.b.c.d"])
def test_every_refusal_shows_a_valid_value(value):
    """Whatever a setting refuses, its message says what a valid value looks like."""
    for setting in SETTINGS:
        try:
            load_settings(environ={setting.name: value})
        except ConfigError as exc:
            message = str(exc)
            assert message.startswith(f"{setting.name}=")
            assert ", e.g. " in message or "postgresql://" in message, message


def test_databases_from_the_environment():
    settings = load_settings(
        environ={
            "DATABASES": " reports=postgresql://u:pw@h/reports?schemas=sales,Ops%20Data\n"
            "archive=postgres://u@h:5433/archive ",
            "HIDDEN": "public.members.email, reports:sales.customers.ssn, main:public.authors",
        }
    )
    reports, archive = settings.databases["reports"], settings.databases["archive"]
    assert reports.schemas == ("sales", "Ops Data") and archive.schemas == ("public",)
    assert "schemas" not in reports.url and reports.url.endswith("@h/reports")
    assert archive.url == "postgresql+psycopg://u@h:5433/archive"
    assert reports.hidden == ("sales.customers.ssn",) and archive.hidden == ()
    assert settings.hidden == ("public.members.email", "public.authors")


def test_databases_as_a_mapping():
    settings = load_settings({"DATABASES": {"shapes": "postgresql://u@h/s?schemas=Ops Data"}})
    assert settings.databases["shapes"].schemas == ("Ops Data",)
    assert load_settings(environ={"DATABASES": " "}).databases == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("reports", "DATABASES=(hidden) must list name=url entries, not 'reports'"),
        (
            "postgresql://u:secret@h/x",
            "DATABASES=(hidden) must list name=url entries, not that",
        ),
        (
            "Reports=postgresql://u@h/r",
            "DATABASES=(hidden) must name databases with lowercase letters, digits and _ "
            "(a letter first), not 'Reports'",
        ),
        (
            "main=postgresql://u@h/r",
            "DATABASES=(hidden) must not name a database 'main': that is DATABASE_URL's name",
        ),
        (
            "r=postgresql://u@h/a r=postgresql://u@h/b",
            "DATABASES=(hidden) must name each database once, not 'r' twice",
        ),
        (
            "r=mysql://u:secret@h/a",
            "DATABASES=(hidden) must give 'r' a postgresql://user:password@host:port/dbname URL",
        ),
        (
            "r=postgresql://u@h/a?schemas=,",
            "DATABASES=(hidden) must give 'r' at least one schema in ?schemas=",
        ),
    ],
)
def test_bad_databases_give_one_line(value, message):
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"DATABASES": value})
    example = "reports=postgresql://user@host/reports?schemas=sales,public"
    assert str(info.value) == f"{message}, e.g. {example}"
    assert "secret" not in str(info.value)


def test_a_hidden_prefix_must_name_a_database():
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"HIDDEN": "nope:public.books"})
    assert str(info.value) == (
        "HIDDEN='nope:public.books' names the database 'nope', which DATABASES does not define"
    )
    with pytest.raises(ConfigError, match="^HIDDEN='Bad:public.books' must prefix"):
        load_settings(environ={"HIDDEN": "Bad:public.books"})


def test_bad_databases_in_a_mapping_fail_the_same_way():
    with pytest.raises(ConfigError, match="^DATABASES=\\(hidden\\) must name databases"):
        load_settings({"DATABASES": {"Bad Name": "postgresql://u@h/x"}})


def test_help_lists_databases_and_the_hidden_prefix():
    text = describe_settings()
    assert "DATABASES" in text and "/db/<name>/" in text and "?schemas=" in text
    assert "reports:sales.customers.ssn" in text


def test_every_setting_is_in_the_readme_settings_table():
    """The README's Configuration table names every declared setting."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = readme[readme.index("## Configuration") : readme.index("## The embedded default")]
    missing = [setting.name for setting in SETTINGS if f"`{setting.name}`" not in table]
    assert missing == []
