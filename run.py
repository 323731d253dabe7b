"""Serve the app with waitress, or run one of its small sub-commands. See --help."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from db.embedded import EmbeddedError, exit_on_sigterm
from db.engine import DatabaseUnreachable
from db.sqlfiles import SqlFileChanged, SqlFileFailed
from webapp.config import ConfigError, describe_settings, load_settings
from webapp.ops.observability import configure_logging

# Failures a user can fix; they get one line on stderr and exit status 2.
USER_ERRORS = (
    ConfigError,
    DatabaseUnreachable,
    EmbeddedError,
    SqlFileChanged,
    SqlFileFailed,
    FileExistsError,
    FileNotFoundError,
    ValueError,
)


def build_parser() -> argparse.ArgumentParser:
    """The command line: serve (default), apply-sql, psql, url, init, token, shell and flask."""
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="Serve a PostgreSQL schema as a JSON API and HTML pages. Without DATABASE_URL "
        "an embedded PostgreSQL is started in DATA_DIR with the sample schema of sql/.",
        epilog="Settings (environment variables; flags win over them):\n" + describe_settings(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help="address to listen on (HOST) [default: 127.0.0.1]")
    parser.add_argument(
        "--port", help="port to listen on, 0 for any free port (PORT) [default: 8000]"
    )
    parser.add_argument("--threads", help="waitress worker threads (THREADS) [default: 8]")
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.add_parser("serve", help="serve with waitress (the default)")
    commands.add_parser(
        "apply-sql",
        help="apply new sql/ files; a running app reloads",
    )
    commands.add_parser(
        "psql",
        add_help=False,  # -h and the rest go to psql
        help="psql on the database as its owner; arguments pass through",
    )
    url = commands.add_parser("url", help="print the database URL psql and apply-sql use")
    url.add_argument("--show-password", action="store_true", help="show the password, not ***")
    init = commands.add_parser(
        "init",
        help="start your own schema: a new folder with first files",
    )
    init.add_argument(
        "directory", nargs="?", type=Path, metavar="DIR", help="the new folder [default: SQL_DIR]"
    )
    token = commands.add_parser(
        "token",
        help="print a development JWT signed with JWT_SECRET (refused without one)",
    )
    token.add_argument("--role", required=True, help="database role the token names")
    token.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra claim (repeatable); numbers stay numbers: --claim member_id=5",
    )
    token.add_argument("--expires-in", type=int, default=3600, help="seconds [default: 3600]")
    commands.add_parser("shell", help="a Python shell in an app context: Session, tables, models")
    commands.add_parser(
        "flask",
        add_help=False,  # --help goes to the Flask command
        help="run a Flask command in an app context: routes, team report, your own",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command; user errors become one line and exit 2."""
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)  # the rest belongs to `flask` or `psql`
    if rest and args.command not in ("flask", "psql"):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    flags = {"HOST": args.host, "PORT": args.port, "THREADS": args.threads}
    config = {name: value for name, value in flags.items() if value is not None}
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    from webapp.app import cli, commands

    try:
        settings = load_settings(config)
        configure_logging(settings.log_level)
        if args.command == "apply-sql":
            return commands.apply_sql(settings)
        if args.command == "psql":
            return commands.psql(settings, rest)
        if args.command == "url":
            return commands.url(settings, args.show_password)
        if args.command == "init":
            return commands.init(settings, args.directory)
        if args.command == "token":
            return commands.token(settings, args.role, args.claim, args.expires_in)
        if args.command in ("shell", "flask"):
            return cli.run_flask_command(rest if args.command == "flask" else ["shell"], config)
        return commands.serve(config)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
