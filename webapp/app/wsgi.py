"""The request class: what the WSGI server hands over, made safe before anything reads it.

Werkzeug decodes the query string strictly, so raw bytes that are not UTF-8 (a lone
surrogate's `ED A0 80`, Latin-1 text) would fail in every view, hook and log line that
reads `request.args` or `request.full_path`. Such bytes are percent-encoded at once:
werkzeug then treats them as it treats a percent-escape that is not UTF-8, kept as
its text (`%ED%A0%80`), so a raw byte and its escape mean the same.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Request as FlaskRequest

_PRINTABLE_ASCII = "".join(chr(code) for code in range(0x21, 0x7F))


def utf8_query_string(raw: bytes) -> bytes:
    """raw, with every byte of invalid UTF-8 percent-encoded (valid text is left as it is)."""
    if raw.isascii():
        return raw
    try:
        raw.decode()
    except UnicodeDecodeError:
        # Every byte past ASCII is escaped: valid sequences decode back to their characters.
        return quote(raw, safe=_PRINTABLE_ASCII).encode("ascii")
    return raw


class Request(FlaskRequest):
    """Flask's request, with a query string that is valid UTF-8 whatever the client sent."""

    def __init__(self, environ, populate_request: bool = True, shallow: bool = False):
        super().__init__(environ, populate_request, shallow)
        self.query_string = utf8_query_string(self.query_string)
