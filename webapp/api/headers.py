"""HTTP headers: PostgREST's Prefer, Range and Accept formats, and Content-Disposition of downloads."""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass

from werkzeug.datastructures import Headers

from ..errors import ApiError

JSON = "application/json"
OBJECT = "application/vnd.pgrst.object+json"
CSV = "text/csv"
FORM = "application/x-www-form-urlencoded"  # a request body only (one row)
# PostgREST's vendor types whose nulls=stripped leaves out the keys whose value is null.
ARRAY_STRIPPED = "application/vnd.pgrst.array+json;nulls=stripped"
OBJECT_STRIPPED = "application/vnd.pgrst.object+json;nulls=stripped"
FORMATS = (JSON, OBJECT, CSV, ARRAY_STRIPPED, OBJECT_STRIPPED)
SINGULAR = (OBJECT, OBJECT_STRIPPED)  # one JSON object, not an array
STRIPPED = (ARRAY_STRIPPED, OBJECT_STRIPPED)
# Accept's media type (without parameters) -> (ours, ours with nulls=stripped), as PostgREST reads it.
_VENDOR = {
    "application/vnd.pgrst.object+json": (OBJECT, OBJECT_STRIPPED),
    "application/vnd.pgrst.object": (OBJECT, OBJECT_STRIPPED),
    "application/vnd.pgrst.array+json": (JSON, ARRAY_STRIPPED),
    "application/vnd.pgrst.array": (JSON, ARRAY_STRIPPED),
}
COUNT_METHODS = ("exact", "planned", "estimated")
_RANGE = re.compile(r"^\s*([0-9]+)-([0-9]*)\s*$")  # ASCII digits (\d takes any script's)
_MAX_RANGE_DIGITS = 18  # a bigint OFFSET; longer numbers name rows no table has


@dataclass(frozen=True)
class Prefer:
    """The preferences of a Prefer header that we honour (the first of each kind wins)."""

    count: str | None = None
    returning: str = "minimal"  # representation, minimal or headers-only
    resolution: str | None = None  # merge-duplicates or ignore-duplicates
    missing_default: bool = False
    handling: str | None = None  # strict or lenient
    tx: str | None = None  # commit or rollback, when the TX_END setting allows overriding it
    max_affected: int | None = None  # enforced with handling=strict only
    single_object: bool = False  # params=single-object: the body is a function's one argument
    applied: tuple[str, ...] = ()  # name=value of each, in PostgREST's Preference-Applied order
    timezone: str | None = None  # a zone PostgreSQL knows (pg_timezone_names), else None

    @property
    def strict(self) -> bool:
        """True when handling=strict: unknown preferences and max-affected are enforced."""
        return self.handling == "strict"


# In the order PostgREST lists them in Preference-Applied.
_PREFERENCES = {
    "resolution": ("merge-duplicates", "ignore-duplicates"),
    "missing": ("default", "null"),
    "return": ("representation", "minimal", "headers-only"),
    "count": COUNT_METHODS,
    "tx": ("commit", "rollback"),
    "handling": ("strict", "lenient"),
    "timezone": (),  # a name of pg_timezone_names
    "max-affected": (),  # a number
    "params": ("single-object",),
}
_MAX_AFFECTED = re.compile(r"^[0-9]{1,18}$")


def parse_prefer(
    headers: Headers, allow_tx: bool = False, timezones: Container[str] = ()
) -> Prefer:
    """Read `Prefer: count=exact, return=representation, ...` as PostgREST does (RFC 7240).

    Unknown preferences are ignored, unless handling=strict: then they are a 400 (PGRST122).
    tx= is read only when allow_tx (the TX_END setting's -allow-override values); timezone=
    only when it names one of timezones (the database's pg_timezone_names).
    """
    chosen, invalid = _preferences(headers, allow_tx, timezones)
    if chosen.get("handling") == "strict" and invalid:
        raise ApiError(
            400,
            "Invalid preferences given with handling=strict",
            code="PGRST122",
            details="Invalid preferences: " + ", ".join(invalid),
        )
    max_affected = chosen.get("max-affected")
    return Prefer(
        count=chosen.get("count"),
        returning=chosen.get("return", "minimal"),
        resolution=chosen.get("resolution"),
        missing_default=chosen.get("missing") == "default",
        handling=chosen.get("handling"),
        tx=chosen.get("tx"),
        max_affected=None if max_affected is None else int(max_affected),
        single_object=chosen.get("params") == "single-object",
        applied=tuple(f"{name}={chosen[name]}" for name in _PREFERENCES if name in chosen),
        timezone=chosen.get("timezone"),
    )


def _preferences(
    headers: Headers, allow_tx: bool, timezones: Container[str]
) -> tuple[dict[str, str], list[str]]:
    """The first value of each known preference, and every token that is none of them."""
    chosen: dict[str, str] = {}
    invalid: list[str] = []
    for value in headers.getlist("Prefer"):
        for token in (token.strip() for token in value.split(",")):
            name, _, argument = token.partition("=")
            if not _known(name, argument, timezones):
                if token:
                    invalid.append(token)
            elif name not in chosen and (name != "tx" or allow_tx):
                chosen[name] = argument
    return chosen, invalid


def _known(name: str, argument: str, timezones: Container[str]) -> bool:
    """True for a preference we read with a value it takes."""
    if name == "max-affected":
        return bool(_MAX_AFFECTED.match(argument))
    if name == "timezone":
        return argument in timezones
    return argument in _PREFERENCES.get(name, ())


def parse_range(headers: Headers) -> tuple[int, int | None] | None:
    """The (offset, limit) of a `Range: 0-24` header with Range-Unit items, or None."""
    value = headers.get("Range")
    if value is None:
        return None
    unit = headers.get("Range-Unit", "items")
    if unit != "items":
        raise ApiError(416, f"Range-Unit {unit!r} is not supported; use items", code="PGRST103")
    match = _RANGE.match(value.removeprefix("items="))
    if not match:
        raise ApiError(416, f"Range {value[:40]!r} is not of the form first-last", code="PGRST103")
    if max(len(match[1]), len(match[2])) > _MAX_RANGE_DIGITS:
        raise ApiError(
            416, f"Range {value[:40]!r} names rows past any table's end", code="PGRST103"
        )
    first = int(match[1])
    if not match[2]:
        return first, None
    last = int(match[2])
    if last < first:
        raise ApiError(416, f"Range {value!r} ends before it starts", code="PGRST103")
    return first, last - first + 1


def _weighted(accept: str) -> list[tuple[float, str]]:
    """(q, media type) for each entry of an Accept header, in the order sent; vendor types read."""
    entries = []
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        q, stripped = 1.0, False
        for param in params:
            name, _, value = (piece.strip() for piece in param.partition("="))
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            elif name == "nulls":
                stripped = value == "stripped"
        media = media.lower()
        if media in _VENDOR:
            media = _VENDOR[media][stripped]
        if q > 0:
            entries.append((q, media))
    return entries


def choose_format(headers: Headers) -> str:
    """The response format the Accept header asks for (JSON when it does not say)."""
    accept = headers.get("Accept", "").strip()
    if not accept or accept == "*/*":
        return JSON
    wanted = [media for _, media in sorted(_weighted(accept), key=lambda pair: -pair[0])]
    for media_type in wanted:
        if media_type in FORMATS:
            return media_type
        if media_type in ("*/*", "application/*"):
            return JSON
    raise ApiError(
        406,
        f"None of these media types are available: {accept}",
        code="PGRST107",
        hint="use one of " + ", ".join(FORMATS),
    )
