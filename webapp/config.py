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

from .app import setting_values as parse
from .app.setting_values import PRIMARY_DATABASE, NamedDatabase, split_database_prefix
from .pipeline.reads import DEFAULT_EMBED_LIMITS, EmbedLimits

PROJECT_DIR = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A setting has a value we cannot use; the message names the setting."""


@dataclass(frozen=True)
class Setting:
    """One documented setting: its name, default and how to parse it."""

    name: str
    field: str  # the attribute of Settings that holds the parsed value
    default: Any
    parse: Callable[[str], Any]
    help: str
    structured: bool = False  # parse also takes the mapping create_app(config) may give
    secret: bool = False  # never shown: not in errors, not in help
    example: str | None = None  # a valid value for error messages (default: the default)
    doc: str = ""  # more for the settings table (docs/settings.md), after help; Markdown


# What a refused secret's message suggests instead: a new random one, never a value to copy.
_NEW_SECRET = "$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"

SETTINGS = (
    Setting(
        "DATABASE_URL",
        "database_url",
        None,
        parse.database_url,
        "postgresql://user:password@host:5432/dbname; unset: start the embedded PostgreSQL",
        secret=True,
        doc="With it set, nothing embedded starts, and `apply-sql`, `psql` and `url` use it.",
    ),
    Setting(
        "DB_SCHEMAS",
        "schemas",
        None,
        parse.schema_names,
        "comma-separated schemas to serve, the first is the default "
        "(default: public; the embedded sample database: public,reporting)",
        example="public,reporting",
    ),
    Setting(
        "DATABASES",
        "databases",
        {},
        parse.named_databases,
        "more databases, served under /db/<name>/: whitespace-separated name=url entries, "
        "each URL's ?schemas=a,b naming its schemas (default: public), e.g. "
        "reports=postgresql://u@h/reports?schemas=sales,public",
        structured=True,
        secret=True,
        example="reports=postgresql://user@host/reports?schemas=sales,public",
    ),
    Setting("HOST", "host", "127.0.0.1", parse.text, "address waitress listens on"),
    Setting("PORT", "port", 8000, parse.port, "port waitress listens on (0: any free port)"),
    Setting(
        "THREADS",
        "threads",
        8,
        parse.positive_int,
        "waitress worker threads; the pool is sized to cover them",
        doc="Each thread has a pooled connection, plus two for health checks and background work.",
    ),
    Setting(
        "CONNECTION_LIMIT",
        "connection_limit",
        1000,
        parse.positive_int,
        "most client connections open at once (waitress's connection_limit); "
        "more wait in the listen backlog",
        doc=(
            "`run.py` raises the process's open-file limit to hold them, or lowers this with a "
            "warning when it cannot."
        ),
    ),
    Setting(
        "CHANNEL_TIMEOUT",
        "channel_timeout",
        120,
        parse.positive_int,
        "seconds an idle connection stays open between requests (waitress's channel_timeout)",
        doc="Above a proxy's usual 60 s keep-alive, so the proxy closes first.",
    ),
    Setting(
        "HEADER_TIMEOUT",
        "header_timeout",
        10.0,
        parse.positive_float,
        "seconds a connection has to send a request's headers, from connecting or from the "
        "request's first byte; a slower one is closed (run.py only)",
        doc="waitress has no such limit: behind `waitress-serve`, let a reverse proxy bound it.",
    ),
    Setting(
        "DB_MAX_OVERFLOW",
        "max_overflow",
        2,
        parse.non_negative_int,
        "connections allowed beyond the pool",
    ),
    Setting(
        "DB_POOL_TIMEOUT",
        "pool_timeout",
        5.0,
        parse.positive_float,
        "seconds a request waits for a pooled connection before a 503",
        doc="Well under a client's timeout: the answer is a 503 (`PGRST003`), not a hang.",
    ),
    Setting(
        "DB_CONNECT_TIMEOUT",
        "connect_timeout",
        3,
        parse.positive_int,
        "seconds to wait when opening a connection",
        doc="When the database is unreachable, requests fail fast with a 503 and `Retry-After: 2`.",
    ),
    Setting(
        "DB_STATEMENT_TIMEOUT",
        "statement_timeout_ms",
        15000,
        parse.non_negative_int,
        "statement_timeout of every connection, in ms (0: none)",
        doc="A longer statement is cancelled and answered with a 504 (SQLSTATE 57014)."
        " Reflecting the schema (startup, reload) is the server's own work and gets at least"
        " a minute.",
    ),
    Setting(
        "DB_IDLE_TX_TIMEOUT",
        "idle_tx_timeout_ms",
        60000,
        parse.non_negative_int,
        "idle_in_transaction_session_timeout of every connection, in ms (0: none)",
    ),
    Setting(
        "DB_APPLICATION_NAME",
        "application_name",
        "pgfront",
        parse.text,
        "application_name shown in pg_stat_activity",
    ),
    Setting(
        "MAX_ROWS",
        "max_rows",
        1000,
        parse.positive_int,
        "hard cap on rows in one API response; a larger limit is cut and reported",
        doc=(
            "In `X-Row-Cap`. Also the most rows of a SQL page download. HTML pages show 50 rows "
            "unless `limit=` asks for more (up to `PAGE_MAX_SIZE`)."
        ),
    ),
    Setting(
        "MAX_EMBEDS",
        "max_embeds",
        DEFAULT_EMBED_LIMITS.count,
        parse.int_between(0, 100),
        "most embedded relations in one request's select=, nested ones included (0 to 100); "
        "more is a 400 before any query runs",
    ),
    Setting(
        "MAX_EMBED_DEPTH",
        "max_embed_depth",
        DEFAULT_EMBED_LIMITS.depth,
        parse.int_between(1, 16),
        "most levels embeds nest (1 to 16); deeper is a 400 before any query runs",
    ),
    Setting(
        "MAX_EMBED_ROWS",
        "max_embed_rows",
        10000,
        parse.positive_int,
        "most embedded rows one API request may fetch, all embeds and levels together; "
        "more is a 413",
    ),
    Setting(
        "EMBED_CONCURRENCY",
        "embed_concurrency",
        1,
        parse.positive_int,
        "API reads whose embeds bring more than MAX_ROWS rows at once; more wait their turn "
        "(within REQUEST_TIMEOUT), so the memory many rows take stays bounded",
    ),
    Setting(
        "REQUEST_TIMEOUT",
        "request_timeout_ms",
        30000,
        parse.non_negative_int,
        "time limit of a request's database work, in ms (0: none); past it the work is "
        "cancelled and the answer is a 504 (an export already streaming stops)",
    ),
    Setting(
        "DATA_DIR",
        "data_dir",
        PROJECT_DIR / ".data",
        Path,
        "folder of the embedded PostgreSQL (used only without DATABASE_URL)",
    ),
    Setting(
        "SQL_DIR",
        "sql_dir",
        PROJECT_DIR / "sql",
        Path,
        "the numbered .sql files applied by apply-sql and by the embedded default",
    ),
    Setting(
        "READ_ONLY",
        "read_only",
        False,
        parse.flag,
        "true: refuse every write with a 405",
        doc="The write never reaches the database.",
    ),
    Setting(
        "AGGREGATES",
        "aggregates",
        False,
        parse.flag,
        "true: select= may aggregate, count(), col.sum(), avg, min, max, grouped by the other"
        " columns (PostgREST's db-aggregates-enabled)",
        doc="Off by default, as in PostgREST: an aggregate over a large table is a full scan"
        " that no index bounds (`DB_STATEMENT_TIMEOUT` and `REQUEST_TIMEOUT` still do). Off, an"
        " aggregate is a 400 (`PGRST123`).",
    ),
    Setting(
        "TX_END",
        "tx_end",
        "commit",
        parse.tx_end,
        "how each write's transaction ends: commit, commit-allow-override, rollback"
        " or rollback-allow-override",
        doc="PostgREST's `db-tx-end`. With `-allow-override`, a request's `Prefer: tx=commit`"
        " or `tx=rollback` picks; `rollback` answers as if the write was made, and keeps"
        " nothing (for tests against a shared database).",
    ),
    Setting(
        "CSV_SAFE_CELLS",
        "csv_safe_cells",
        False,
        parse.flag,
        "true: the API's CSV prefixes text cells that start like a spreadsheet formula"
        " (= + - @ tab CR) with ', as the pages' downloads always do",
        doc="`false` keeps PostgREST's bytes (see *Security*).",
    ),
    Setting(
        "DB_ANON_ROLE",
        "anon_role",
        None,
        parse.optional_text,
        "role for requests without a token (unset: no SET ROLE; the embedded sample database: "
        "web_anon, served through the login role authenticator)",
        doc=(
            "Grants and row-level security for that role decide what an anonymous request may "
            "do. On the embedded server, set it empty to serve as its superuser (warned about). "
            "Checked at startup and by `/ready` (see *Roles and JWT*)."
        ),
    ),
    Setting(
        "JWT_SECRET",
        "jwt_secret",
        None,
        parse.secret(32),
        "HS256 secret that signs accepted tokens, at least 32 characters",
        secret=True,
        example=_NEW_SECRET,
        doc="A shorter one stops startup: short ones can be guessed offline from any token.",
    ),
    Setting(
        "JWT_PUBLIC_KEY",
        "jwt_public_key",
        None,
        parse.optional_text,
        "RS256 public key of accepted tokens: PEM text or a JWKS document (JSON)",
        secret=True,
        doc="A JWKS key is picked by the token's `kid`.",
    ),
    Setting(
        "JWT_AUDIENCE",
        "jwt_audience",
        None,
        parse.optional_text,
        "required aud claim of tokens (unset: not checked)",
    ),
    Setting(
        "JWT_ROLE_CLAIM", "jwt_role_claim", "role", parse.text, "claim that names the database role"
    ),
    Setting(
        "JWT_REQUIRE_EXP",
        "jwt_require_exp",
        True,
        parse.flag,
        "true: refuse tokens without an exp claim (false: such tokens never expire)",
        doc="A refused token is a 401.",
    ),
    Setting(
        "HIDDEN",
        "hidden",
        (),
        parse.hidden_names,
        "comma-separated schema.table and schema.table.column never served, described or written;"
        " prefix name: for a database of DATABASES (reports:sales.customers.ssn)",
        example="public.members.email",
        doc=(
            "A primary key column cannot be hidden: hide its table. A hidden table takes its "
            "partitions (every level) and inheritance children with it; a hidden column is hidden "
            "in each of them too; foreign keys into hidden tables or columns are not followed, "
            "linked, drawn or described, and errors about them lose their details. Names are per "
            "relation otherwise: a view that selects a hidden column serves it under its own name "
            "unless you hide that too; a view that reads anything hidden does not show its SQL. An"
            " entry naming nothing stops startup; after a reload, one whose table or column was "
            "renamed keeps hiding it (see *What HIDDEN covers* under *Security*)."
        ),
    ),
    Setting(
        "MAX_BODY_BYTES",
        "max_body_bytes",
        10 * 1024 * 1024,
        parse.positive_int,
        "largest request body accepted; larger is a 413",
        doc="The 413 comes from waitress, from the `Content-Length`, before the body is read.",
    ),
    Setting(
        "RELOAD_CHANNEL",
        "reload_channel",
        "pgfront",
        lambda t: t.strip() or None,
        "LISTEN channel for NOTIFY <channel>, 'reload schema' (empty: do not listen)",
    ),
    Setting(
        "ADMIN_TOKEN",
        "admin_token",
        None,
        parse.secret(24),
        "bearer token for POST /admin/reload, at least 24 characters "
        "(unset: admin endpoints are off)",
        secret=True,
        example=_NEW_SECRET,
        doc="Sent as `Authorization: Bearer <token>`; the SQL page takes it too.",
    ),
    Setting(
        "SQL_PAGE",
        "sql_page",
        False,
        parse.flag,
        "true: serve the read-only SQL page at /sql to ADMIN_TOKEN and SQL_PAGE_ROLES "
        "(refused at startup when its login could read anything HIDDEN)",
        doc="See *The SQL page*.",
    ),
    Setting(
        "SQL_PAGE_USER",
        "sql_page_user",
        None,
        parse.optional_text,
        "login role of the SQL page's connections, to the same server and database "
        "(unset: the app's own login)",
    ),
    Setting(
        "SQL_PAGE_PASSWORD",
        "sql_page_password",
        None,
        parse.optional_text,
        "password of SQL_PAGE_USER",
        secret=True,
    ),
    Setting(
        "SQL_PAGE_ROLES",
        "sql_page_roles",
        (),
        parse.names,
        "comma-separated JWT roles that may use the SQL page (the admin token always may)",
    ),
    Setting(
        "PAGE_STATEMENT_TIMEOUT",
        "page_timeout_ms",
        5000,
        parse.positive_int,
        "time limit of an HTML page's row query and of an explicit exact count, in ms",
        doc=(
            "Also the limit of a SQL page query. Past it: a 504 page that keeps the filter form "
            "(or the query)."
        ),
    ),
    Setting(
        "PAGE_SIDE_TIMEOUT",
        "side_timeout_ms",
        500,
        parse.positive_int,
        "time limit of each side query of a page (counts, labels, references), in ms",
        doc="A side query that runs out of time becomes a note on the page.",
    ),
    Setting(
        "PAGE_COUNT_LIMIT",
        "count_limit",
        10000,
        parse.positive_int,
        'pages count rows up to this many ("more than N" beyond) unless asked for exact',
    ),
    Setting(
        "PAGE_MAX_SIZE",
        "page_max_size",
        500,
        parse.positive_int,
        "most rows one HTML page shows",
        doc="Also the most rows the SQL page shows.",
    ),
    Setting(
        "EXPORT_MAX_ROWS",
        "export_max_rows",
        1_000_000,
        parse.positive_int,
        "most rows one CSV or NDJSON export streams (sent as X-Export-Row-Cap)",
    ),
    Setting(
        "EXPORT_CONCURRENCY",
        "export_concurrency",
        2,
        parse.positive_int,
        "exports streaming at once (each holds a connection to its last row); more get a 503",
        doc="The 503 carries `Retry-After`.",
    ),
    Setting(
        "LABEL_COLUMNS",
        "label_columns",
        {},
        parse.label_columns,
        "comma-separated schema.table.column: the column that labels a row where "
        "foreign keys point at it (default: a name-like text column)",
        example="public.books.title",
        doc="E.g. `public.members.email`. An entry naming no served column stops startup.",
    ),
    Setting(
        "SHUTDOWN_GRACE",
        "shutdown_grace",
        10.0,
        parse.positive_float,
        "seconds SIGTERM waits for requests in flight before stopping",
    ),
    Setting(
        "BLUEPRINTS",
        "blueprints",
        (),
        parse.blueprint_entries,
        "team views of another package, registered besides those of webapp/views/: "
        "module:attribute entries separated by commas or whitespace (myteam.reports:bp)",
        example="myteam.reports:bp",
    ),
    Setting("LOG_LEVEL", "log_level", "INFO", parse.log_level, "DEBUG, INFO, WARNING or ERROR"),
    Setting(
        "RECORD_QUERIES",
        "record_queries",
        False,
        parse.flag,
        "true: record each request's statements with durations (get_recorded_queries(), "
        "the webapp.queries log at DEBUG); for debugging",
        doc="See *Query recording and slow queries*.",
    ),
    Setting(
        "SLOW_QUERY_MS",
        "slow_query_ms",
        0,
        parse.non_negative_int,
        "log statements that take longer than this many ms at WARNING (0: off)",
        doc="Each line carries the request id; a statement cancelled by a timeout counts.",
    ),
)

EMBEDDED_DATABASE = "library"
EMBEDDED_SCHEMAS = ("public", "reporting")
EMBEDDED_ANON_ROLE = "web_anon"  # sql/006 creates it; the login role is granted it by sql/007


@dataclass(frozen=True)
class Settings:
    """The parsed settings of one app: one field per entry of SETTINGS, plus Flask's extras."""

    database_url: str | None
    schemas: tuple[str, ...]
    host: str
    port: int
    threads: int
    connection_limit: int
    channel_timeout: int
    header_timeout: float
    max_overflow: int
    pool_timeout: float
    connect_timeout: int
    statement_timeout_ms: int
    idle_tx_timeout_ms: int
    application_name: str
    max_rows: int
    max_embeds: int
    max_embed_depth: int
    max_embed_rows: int
    embed_concurrency: int
    request_timeout_ms: int
    data_dir: Path
    sql_dir: Path
    log_level: str
    read_only: bool
    aggregates: bool
    tx_end: str
    csv_safe_cells: bool
    anon_role: str | None
    jwt_secret: str | None
    jwt_public_key: str | None
    jwt_audience: str | None
    jwt_role_claim: str
    jwt_require_exp: bool
    hidden: tuple[str, ...]
    max_body_bytes: int
    reload_channel: str | None
    admin_token: str | None
    sql_page: bool
    sql_page_user: str | None
    sql_page_password: str | None
    sql_page_roles: tuple[str, ...]
    page_timeout_ms: int
    side_timeout_ms: int
    count_limit: int
    page_max_size: int
    export_max_rows: int
    label_columns: Mapping[tuple[str, str], str]
    shutdown_grace: float
    export_concurrency: int
    record_queries: bool
    slow_query_ms: int
    blueprints: tuple[str, ...]  # module:attribute of team views outside webapp/views/
    # The databases of DATABASES by name, each with its HIDDEN names (hidden holds the primary's).
    databases: Mapping[str, NamedDatabase]
    # Add a setting by declaring it in SETTINGS and giving it a field here.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pool_size(self) -> int:
        """One connection per waitress thread, plus two for health checks and background work."""
        return self.threads + 2

    @property
    def embed_limits(self) -> EmbedLimits:
        """MAX_EMBEDS, MAX_EMBED_DEPTH and AGGREGATES, as the select= parser takes them."""
        return EmbedLimits(self.max_embeds, self.max_embed_depth, self.aggregates)

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
    unset = set()
    for setting in SETTINGS:
        if setting.name in config:
            raw = config.pop(setting.name)
        elif setting.name in environ:
            raw = environ[setting.name]
        else:
            values[setting.name] = setting.default
            unset.add(setting.name)
            continue
        values[setting.name] = _parse(setting, raw)
    databases, values["HIDDEN"] = _hidden_by_database(values["DATABASES"], values["HIDDEN"])
    values["DATABASES"] = databases
    # The sample has a second schema and its roles; a team's own SQL_DIR starts with public.
    sample = values["DATABASE_URL"] is None and _is_sample(values["SQL_DIR"])
    if values["DB_SCHEMAS"] is None:
        values["DB_SCHEMAS"] = EMBEDDED_SCHEMAS if sample else ("public",)
    if sample and "DB_ANON_ROLE" in unset:  # set empty, it serves as the superuser (warned)
        values["DB_ANON_ROLE"] = EMBEDDED_ANON_ROLE
    fields = {setting.field: values[setting.name] for setting in SETTINGS}
    # anything else (TESTING, SECRET_KEY, ...) goes to Flask's config
    return Settings(**fields, extra=config)


def _is_sample(sql_dir: Path) -> bool:
    """True when SQL_DIR is the project's own sql/, the sample schema."""
    sample = next(setting.default for setting in SETTINGS if setting.name == "SQL_DIR")
    return Path(sql_dir).resolve() == sample.resolve()


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
        shown = "(hidden)" if setting.secret else repr(raw)
        raise ConfigError(f"{setting.name}={shown} {reason}{_example(setting)}") from None


def _example(setting: Setting) -> str:
    """ ", e.g. <a valid value>" for an error message: the setting's example, else its default."""
    example = setting.example
    if example is None and isinstance(setting.default, bool):
        example = str(setting.default).lower()
    elif example is None and isinstance(setting.default, int | float | str):
        example = str(setting.default)
    return f", e.g. {example}" if example else ""


def describe_settings() -> str:
    """The settings as help text, for `run.py --help`."""
    lines = []
    width = max(len(setting.name) for setting in SETTINGS) + 2
    for setting in SETTINGS:
        shown = setting.default not in (None, (), {})
        default = f" [default: {setting.default}]" if shown else ""
        lines.append(f"  {setting.name:<{width}}{setting.help}{default}")
    return "\n".join(lines)


SETTINGS_TABLE_START = "<!-- generated from SETTINGS in webapp/config.py: settings_table() -->"
SETTINGS_TABLE_END = "<!-- end of settings table -->"


def settings_table() -> str:
    """The settings as the README's Markdown table, between its two marker comments."""
    rows = [SETTINGS_TABLE_START, "| Setting | Default | Meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        # help is plain text (run.py --help shows it): a <name> in it must not read as HTML
        meaning = setting.help.replace("<", "&lt;")
        if setting.doc:
            meaning = f"{meaning}. {setting.doc}"
        meaning = meaning.replace("|", "\\|")
        rows.append(f"| `{setting.name}` | {_shown_default(setting.default)} | {meaning} |")
    return "\n".join([*rows, SETTINGS_TABLE_END])


def _shown_default(default: Any) -> str:
    """A default as the table shows it: no machine paths, words for nothing."""
    if default is None:
        return "unset"
    if default in ((), {}):
        return "empty"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, Path):
        return f"`./{default.relative_to(PROJECT_DIR)}`"
    return f"`{default}`"
