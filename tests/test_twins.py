"""Every HTML page has a JSON twin, by one rule: `_format=json` or an Accept preferring JSON."""

import re
from html import unescape

import pytest

PAGES = [
    "/",
    "/?q=book",
    "/browse/public/books?order=title&limit=5",
    "/browse/public/branches/row?id=1",
    "/browse/public/books/structure",
    "/schema/public",
]
JSON_FIRST = {"Accept": "application/json, text/html;q=0.5"}


def _with_format(path: str) -> str:
    return path + ("&" if "?" in path else "?") + "_format=json"


@pytest.mark.parametrize("path", PAGES)
def test_a_page_answers_html_unless_json_is_asked_for(client, path):
    page = client.get(path)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Accept" in page.headers["Vary"]
    browser = client.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.mimetype == "text/html" and "Accept" in browser.headers["Vary"]


@pytest.mark.parametrize("path", PAGES)
def test_the_query_string_and_the_accept_header_both_give_the_same_twin(client, path):
    by_query = client.get(_with_format(path))
    by_accept = client.get(path, headers=JSON_FIRST)
    for twin in (by_query, by_accept):
        assert twin.status_code == 200 and twin.mimetype == "application/json"
        assert "Accept" in twin.headers["Vary"]
    # The same data; only the twin's own links differ (the query string's keep _format=json).
    assert _data(by_query.json) == _data(by_accept.json) and by_query.json


def _data(twin: dict) -> dict:
    return {key: value for key, value in twin.items() if key not in ("next", "previous")}


def test_the_table_page_links_to_its_twin_and_its_next_page(client):
    twin = client.get("/browse/public/books?order=title&limit=5", headers=JSON_FIRST).json
    assert twin["rows"] and twin["next"]
    following = client.get(twin["next"], headers=JSON_FIRST)
    assert following.mimetype == "application/json" and following.json["rows"] != twin["rows"]
    html = client.get("/browse/public/books?order=title&limit=5").get_data(as_text=True)
    assert "_format=json" in html  # the page's JSON link


@pytest.mark.parametrize(
    "path", ["/browse/public/nowhere", "/browse/public/books?nope=eq.1", "/schema/nowhere"]
)
def test_a_page_error_follows_the_same_rule(client, path):
    page = client.get(path)
    assert page.status_code in (400, 404) and page.mimetype == "text/html"
    for twin in (client.get(_with_format(path)), client.get(path, headers=JSON_FIRST)):
        assert twin.status_code == page.status_code and twin.mimetype == "application/json"
        assert twin.json["code"] and "Accept" in twin.headers["Vary"]
    assert "Accept" in page.headers["Vary"]


def test_the_api_answers_json_whatever_accept_prefers(client):
    missing = client.get("/api/nowhere", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and missing.mimetype == "application/json"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_links_to_its_own_twin(client, path):
    html = client.get(path).get_data(as_text=True)
    [link] = re.findall(r'<a href="([^"]*_format=json[^"]*)"', html)
    twin = client.get(unescape(link))
    assert twin.mimetype == "application/json"
    assert _data(twin.json) == _data(client.get(path, headers=JSON_FIRST).json)
