"""How a page answers: its HTML or its JSON twin, by one rule; and how a download is named.

Every HTML page has a JSON twin of the same data. A request gets the twin when its query
string asks (`_format=json`) or its Accept header prefers application/json to text/html;
either way the response says `Vary: Accept`, so a cache keeps the two apart. Error pages
follow the same rule (webapp/errors.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Response, request
from werkzeug.datastructures import MIMEAccept

from ..encoding import json_response

TWIN_PARAMETER = ("_format", "json")  # ?_format=json: the page's JSON twin


def prefers_json(accept: MIMEAccept) -> bool:
    """True when the Accept header ranks application/json above text/html."""
    return accept.best_match(["text/html", "application/json"]) == "application/json"


def wants_twin() -> bool:
    """True when this page request asks for the JSON twin (the query string, or Accept)."""
    name, value = TWIN_PARAMETER
    return request.args.get(name) == value or prefers_json(request.accept_mimetypes)


def page_or_twin(data: Callable[[], Any], html: Callable[[], str], status: int = 200) -> Response:
    """The JSON twin (data()) or the HTML page (html()), whichever was asked, with Vary: Accept."""
    if wants_twin():
        response = json_response(data(), status)
    else:
        response = Response(html(), status=status, mimetype="text/html")
    response.vary.add("Accept")
    return response


def attachment(filename: str) -> str:
    """Content-Disposition of a download: an ASCII fallback and the exact name (RFC 6266, 5987)."""
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
