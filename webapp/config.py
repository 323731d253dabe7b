"""Settings: the only module that reads the environment.

Every setting has an environment variable of the same name; `create_app(config)`
takes a mapping with the same names, which wins over the environment. A bad value
fails at startup with one line naming the setting.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import setting_values as parse
from .setting_values import PRIMARY_DATABASE, NamedDatabase, split_database_prefix

PROJECT_DIR = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A setting has a value we cannot use; the message names the setting."""


@dataclass(frozen=True)
class Setting:
    """One documented setting: its name, default and how to parse it."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    structured: bool = False  # parse also takes the mapping create_app(config) may give


SETTINGS = (
    Setting(
        "DATABASE_URL",
        None,
        parse.database_url,
        "postgresql://user:password@host:5432/dbname; unset: start the embedded PostgreSQL",
    ),
    Setting(
        "DB_SCHEMAS",
        None,
        parse.schema_names,
        "comma-separated schemas to serve, the first is the default "
        "(default: public; the embedded sample database: public,reporting)",
    ),
    Setting(
        "DATABASES",
        {},
        parse.named_databases,
        "more databases, served under /db/<name>/: whitespace-separated name=url entries, "
        "each URL's ?schemas=a,b naming its schemas (default: public), e.g. "
        "reports=postgresql://u@h/reports?schemas=sales,public",
        structured=True,
    ),
    Setting("HOST", "127.0.0.1", parse.text, "address waitress listens on"),
    Setting("PORT", 8000, parse.port, "port waitress listens on (0: any free port)"),
    Setting(
        "THREADS", 8, parse.positive_int, "waitress worker threads; the pool is sized to cover them"
    ),
    Setting("DB_MAX_OVERFLOW", 2, parse.non_negative_int, "connections allowed beyond the pool"),
    Setting(
        "DB_POOL_TIMEOUT",
        5.0,
        parse.positive_float,
        "seconds a request waits for a pooled connection before a 503",
    ),
    Setting(
        "DB_CONNECT_TIMEOUT", 3, parse.positive_int, "seconds to wait when opening a connection"
    ),
    Setting(
        "DB_STATEMENT_TIMEOUT",
        15000,
        parse.non_negative_int,
        "statement_timeout of every connection, in ms (0: none)",
    ),
    Setting(
        "DB_IDLE_TX_TIMEOUT",
        60000,
        parse.non_negative_int,
        "idle_in_transaction_session_timeout of every connection, in ms (0: none)",
    ),
    Setting(
        "DB_APPLICATION_NAME", "pgfront", parse.text, "application_name shown in pg_stat_activity"
    ),
    Setting(
        "MAX_ROWS",
        1000,
        parse.positive_int,
        "hard cap on rows in one API response; a larger limit is cut and reported",
    ),
    Setting(
        "DATA_DIR",
        str(PROJECT_DIR / ".data"),
        parse.text,
        "folder of the embedded PostgreSQL (used only without DATABASE_URL)",
    ),
    Setting(
        "SQL_DIR",
        str(PROJECT_DIR / "sql"),
        parse.text,
        "the numbered .sql files applied by apply-sql and by the embedded default",
    ),
    Setting("READ_ONLY", False, parse.flag, "true: refuse every write with a 405"),
    Setting(
        "DB_ANON_ROLE",
        None,
        parse.optional_text,
        "role for requests without a token (unset: no SET ROLE)",
    ),
    Setting("JWT_SECRET", None, parse.optional_text, "HS256 secret that signs accepted tokens"),
    Setting(
        "JWT_PUBLIC_KEY",
        None,
        parse.optional_text,
        "RS256 public key of accepted tokens: PEM text or a JWKS document (JSON)",
    ),
    Setting(
        "JWT_AUDIENCE",
        None,
        parse.optional_text,
        "required aud claim of tokens (unset: not checked)",
    ),
    Setting("JWT_ROLE_CLAIM", "role", parse.text, "claim that names the database role"),
    Setting(
        "HIDDEN",
        (),
        parse.hidden_names,
        "comma-separated schema.table and schema.table.column never served, described or written;"
        " prefix name: for a database of DATABASES (reports:sales.customers.ssn)",
    ),
    Setting(
        "MAX_BODY_BYTES",
        10 * 1024 * 1024,
        parse.positive_int,
        "largest request body accepted; larger is a 413",
    ),
    Setting(
        "RELOAD_CHANNEL",
        "pgfront",
        lambda t: t.strip() or None,
        "LISTEN channel for NOTIFY <channel>, 'reload schema' (empty: do not listen)",
    ),
    Setting(
        "ADMIN_TOKEN",
        None,
        parse.optional_text,
        "bearer token for POST /admin/reload (unset: admin endpoints are off)",
    ),
    Setting(
        "PAGE_STATEMENT_TIMEOUT",
        5000,
        parse.positive_int,
        "time limit of an HTML page's row query and of an explicit exact count, in ms",
    ),
    Setting(
        "PAGE_SIDE_TIMEOUT",
        500,
        parse.positive_int,
        "time limit of each side query of a page (counts, labels, references), in ms",
    ),
    Setting(
        "PAGE_COUNT_LIMIT",
        10000,
        parse.positive_int,
        'pages count rows up to this many ("more than N" beyond) unless asked for exact',
    ),
    Setting("PAGE_MAX_SIZE", 500, parse.positive_int, "most rows one HTML page shows"),
    Setting(
        "EXPORT_MAX_ROWS",
        1_000_000,
        parse.positive_int,
        "most rows one CSV or NDJSON export streams (sent as X-Export-Row-Cap)",
    ),
    Setting(
        "EXPORT_CONCURRENCY",
        2,
        parse.positive_int,
        "exports streaming at once (each holds a connection to its last row); more get a 503",
    ),
    Setting(
        "LABEL_COLUMNS",
        {},
        parse.label_columns,
        "comma-separated schema.table.column: the column that labels a row where "
        "foreign keys point at it (default: a name-like text column)",
    ),
    Setting(
        "SHUTDOWN_GRACE",
        10.0,
        parse.positive_float,
        "seconds SIGTERM waits for requests in flight before stopping",
    ),
    Setting("LOG_LEVEL", "INFO", parse.log_level, "DEBUG, INFO, WARNING or ERROR"),
    Setting(
        "RECORD_QUERIES",
        False,
        parse.flag,
        "true: record each request's statements with durations (get_recorded_queries(), "
        "the webapp.queries log at DEBUG); for debugging",
    ),
    Setting(
        "SLOW_QUERY_MS",
        0,
        parse.non_negative_int,
        "log statements that take longer than this many ms at WARNING (0: off)",
    ),
)

EMBEDDED_DATABASE = "library"
EMBEDDED_SCHEMAS = ("public", "reporting")


@dataclass(frozen=True)
class Settings:
    """The parsed settings of one app."""

    database_url: str | None
    schemas: tuple[str, ...]
    host: str
    port: int
    threads: int
    max_overflow: int
    pool_timeout: float
    connect_timeout: int
    statement_timeout_ms: int
    idle_tx_timeout_ms: int
    application_name: str
    max_rows: int
    data_dir: Path
    sql_dir: Path
    log_level: str
    read_only: bool
    anon_role: str | None
    jwt_secret: str | None
    jwt_public_key: str | None
    jwt_audience: str | None
    jwt_role_claim: str
    hidden: tuple[str, ...]
    max_body_bytes: int
    reload_channel: str | None
    admin_token: str | None
    page_timeout_ms: int = 5000
    side_timeout_ms: int = 500
    count_limit: int = 10000
    page_max_size: int = 500
    export_max_rows: int = 1_000_000
    label_columns: Mapping[tuple[str, str], str] = field(default_factory=dict)
    shutdown_grace: float = 10.0
    export_concurrency: int = 2
    record_queries: bool = False
    slow_query_ms: int = 0
    # The databases of DATABASES by name, each with its HIDDEN names (hidden holds the primary's).
    databases: Mapping[str, NamedDatabase] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pool_size(self) -> int:
        """One connection per waitress thread, plus two for health checks and background work."""
        return self.threads + 2

    @property
    def embedded(self) -> bool:
        """True when no DATABASE_URL is set and the embedded server is used."""
        return self.database_url is None


def load_settings(
    config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Parse the settings from config (wins) and the environment; ConfigError on a bad value."""
    config = dict(config or {})
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.name in config:
            raw = config.pop(setting.name)
        elif setting.name in environ:
            raw = environ[setting.name]
        else:
            values[setting.name] = setting.default
            continue
        values[setting.name] = _parse(setting, raw)
    databases, values["HIDDEN"] = _hidden_by_database(values["DATABASES"], values["HIDDEN"])
    schemas = values["DB_SCHEMAS"]
    if schemas is None:
        schemas = EMBEDDED_SCHEMAS if values["DATABASE_URL"] is None else ("public",)
    return Settings(
        database_url=values["DATABASE_URL"],
        schemas=schemas,
        host=values["HOST"],
        port=values["PORT"],
        threads=values["THREADS"],
        max_overflow=values["DB_MAX_OVERFLOW"],
        pool_timeout=values["DB_POOL_TIMEOUT"],
        connect_timeout=values["DB_CONNECT_TIMEOUT"],
        statement_timeout_ms=values["DB_STATEMENT_TIMEOUT"],
        idle_tx_timeout_ms=values["DB_IDLE_TX_TIMEOUT"],
        application_name=values["DB_APPLICATION_NAME"],
        max_rows=values["MAX_ROWS"],
        data_dir=Path(values["DATA_DIR"]),
        sql_dir=Path(values["SQL_DIR"]),
        log_level=values["LOG_LEVEL"],
        read_only=values["READ_ONLY"],
        anon_role=values["DB_ANON_ROLE"],
        jwt_secret=values["JWT_SECRET"],
        jwt_public_key=values["JWT_PUBLIC_KEY"],
        jwt_audience=values["JWT_AUDIENCE"],
        jwt_role_claim=values["JWT_ROLE_CLAIM"],
        hidden=values["HIDDEN"],
        max_body_bytes=values["MAX_BODY_BYTES"],
        reload_channel=values["RELOAD_CHANNEL"],
        admin_token=values["ADMIN_TOKEN"],
        page_timeout_ms=values["PAGE_STATEMENT_TIMEOUT"],
        side_timeout_ms=values["PAGE_SIDE_TIMEOUT"],
        count_limit=values["PAGE_COUNT_LIMIT"],
        page_max_size=values["PAGE_MAX_SIZE"],
        export_max_rows=values["EXPORT_MAX_ROWS"],
        label_columns=values["LABEL_COLUMNS"],
        shutdown_grace=values["SHUTDOWN_GRACE"],
        export_concurrency=values["EXPORT_CONCURRENCY"],
        record_queries=values["RECORD_QUERIES"],
        slow_query_ms=values["SLOW_QUERY_MS"],
        databases=databases,
        extra=config,  # anything else (TESTING, SECRET_KEY, ...) goes to Flask's config
    )


def _hidden_by_database(
    databases: Mapping[str, NamedDatabase], hidden: tuple[str, ...]
) -> tuple[dict[str, NamedDatabase], tuple[str, ...]]:
    """HIDDEN's `name:` entries given to their database; the unprefixed ones stay the primary's."""
    primary, by_name = [], {name: [] for name in databases}
    for entry in hidden:
        name, _, relation = split_database_prefix(entry)
        if name is None or name == PRIMARY_DATABASE:
            primary.append(relation)
        elif name in by_name:
            by_name[name].append(relation)
        else:
            raise ConfigError(
                f"HIDDEN={entry!r} names the database {name!r}, which DATABASES does not define"
            )
    named = {
        name: replace(database, hidden=tuple(by_name[name])) for name, database in databases.items()
    }
    return named, tuple(primary)


def _parse(setting: Setting, raw: Any) -> Any:
    """Parse one raw value; values already of the right type pass through."""
    if raw is None:
        return setting.default
    if not isinstance(raw, str) and not (setting.structured and isinstance(raw, Mapping)):
        return raw
    try:
        return setting.parse(raw)
    except ValueError as exc:
        reason = str(exc) if str(exc).startswith(("must", "is not")) else "is not valid"
        secret = setting.name in (
            "DATABASE_URL",
            "DATABASES",
            "ADMIN_TOKEN",
            "JWT_SECRET",
            "JWT_PUBLIC_KEY",
        )
        shown = "(hidden)" if secret else repr(raw)
        raise ConfigError(f"{setting.name}={shown} {reason}") from None


def describe_settings() -> str:
    """The settings as help text, for `run.py --help`."""
    lines = []
    width = max(len(setting.name) for setting in SETTINGS) + 2
    for setting in SETTINGS:
        shown = setting.default not in (None, (), {})
        default = f" [default: {setting.default}]" if shown else ""
        lines.append(f"  {setting.name:<{width}}{setting.help}{default}")
    return "\n".join(lines)
