"""Settings: defaults, overrides, and one clear line for a bad value."""

import pytest

from webapp.config import ConfigError, load_settings


def test_defaults_without_environment():
    settings = load_settings(environ={})
    assert settings.embedded
    assert settings.schemas == ("public", "reporting")
    assert (settings.host, settings.port, settings.threads) == ("127.0.0.1", 8000, 8)
    assert settings.pool_size >= settings.threads


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
        ("THREADS", "many", "THREADS='many' is not valid"),
        ("THREADS", "0", "THREADS='0' must be a positive integer"),
        ("PORT", "70000", "PORT='70000' must be between 0 and 65535"),
        ("DB_SCHEMAS", " , ", "DB_SCHEMAS=' , ' must name at least one schema"),
        ("DB_POOL_TIMEOUT", "-1", "DB_POOL_TIMEOUT='-1' must be a positive number"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL='loud' must be DEBUG, INFO, WARNING or ERROR"),
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
