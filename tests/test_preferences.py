"""PostgREST's Prefer header: timezone= for the transaction, and Preference-Applied.

Each case follows PostgREST's documented behaviour (API reference, "Prefer Header"): a known
zone is applied with SET LOCAL and reported back; an unknown one is ignored and not reported;
the first value of a preference is the one used.
"""

from __future__ import annotations

import pytest
from werkzeug.datastructures import Headers

from webapp.api.headers import parse_prefer
from webapp.errors import ApiError

ZONES = frozenset({"Asia/Kolkata", "America/Los_Angeles", "UTC"})


@pytest.mark.parametrize(
    ("sent", "applied", "timezone"),
    [
        (
            ["count=exact, timezone=Asia/Kolkata"],
            ("count=exact", "timezone=Asia/Kolkata"),
            "Asia/Kolkata",
        ),
        (
            ["timezone=Asia/Kolkata", "count=planned"],
            ("count=planned", "timezone=Asia/Kolkata"),
            "Asia/Kolkata",
        ),
        (["timezone=Mars/Olympus_Mons"], (), None),
        (["timezone=asia/kolkata"], (), None),  # names are matched exactly, as PostgREST does
        (["count=exact, count=planned"], ("count=exact",), None),  # the first value counts
        (["timezone=UTC", "timezone=Asia/Kolkata"], ("timezone=UTC",), "UTC"),
        (
            ["return=representation, missing=default, resolution=merge-duplicates, count=exact"],
            (
                "resolution=merge-duplicates",
                "missing=default",
                "return=representation",
                "count=exact",
            ),
            None,
        ),
    ],
)
def test_parse_prefer_follows_postgrest(sent, applied, timezone):
    prefer = parse_prefer(Headers([("Prefer", value) for value in sent]), timezones=ZONES)
    assert prefer.applied == applied
    assert prefer.timezone == timezone


def test_an_unknown_timezone_is_an_invalid_preference_with_strict_handling():
    headers = Headers([("Prefer", "handling=strict, timezone=Mars/Olympus_Mons")])
    with pytest.raises(ApiError) as refused:
        parse_prefer(headers, timezones=ZONES)
    assert (refused.value.status, refused.value.code) == (400, "PGRST122")
    assert refused.value.details == "Invalid preferences: timezone=Mars/Olympus_Mons"
    strict = parse_prefer(Headers([("Prefer", "handling=strict, timezone=UTC")]), timezones=ZONES)
    assert strict.applied == ("handling=strict", "timezone=UTC")


def test_parse_prefer_without_zones_accepts_none():
    assert parse_prefer(Headers([("Prefer", "timezone=UTC")])).timezone is None


def _first_loan(client, headers=None):
    return client.get("/api/loans?select=loaned_at&order=id&limit=1", headers=headers or {})


def test_timezone_applies_to_a_read(client):
    response = _first_loan(client, {"Prefer": "timezone=Asia/Kolkata"})
    assert response.status_code == 200
    assert response.json[0]["loaned_at"].endswith("+05:30")
    assert response.headers["Preference-Applied"] == "timezone=Asia/Kolkata"
    # The same instant, written in the zone asked for.
    utc = _first_loan(client, {"Prefer": "timezone=UTC"}).json[0]["loaned_at"]
    assert utc.endswith("+00:00") and utc != response.json[0]["loaned_at"]


def test_timezone_is_local_to_its_request(client):
    _first_loan(client, {"Prefer": "timezone=Asia/Kolkata"})
    after = _first_loan(client)
    assert not after.json[0]["loaned_at"].endswith("+05:30")
    assert "Preference-Applied" not in after.headers


def test_an_unknown_timezone_is_ignored_and_not_reported(client):
    plain = _first_loan(client)
    for zone in ("Mars/Olympus_Mons", "UTC'; SET role postgres; --", "+99"):
        response = _first_loan(client, {"Prefer": f"timezone={zone}"})
        assert response.status_code == 200
        assert response.json == plain.json
        assert "Preference-Applied" not in response.headers


def test_count_and_timezone_are_both_reported_in_postgrest_order(client):
    response = client.get(
        "/api/branches?select=id&limit=1",
        headers={"Prefer": "timezone=America/Los_Angeles, count=exact"},
    )
    assert response.headers["Preference-Applied"] == "count=exact, timezone=America/Los_Angeles"


def test_write_preferences_are_not_reported_on_a_read(client):
    response = client.get(
        "/api/branches?select=id&limit=1",
        headers={"Prefer": "return=representation, resolution=merge-duplicates"},
    )
    assert response.status_code == 200 and "Preference-Applied" not in response.headers


def test_timezone_applies_to_a_write_and_its_representation(client):
    response = client.patch(
        "/api/members?id=eq.1",
        json={"joined_at": "2024-01-01T00:00:00Z"},
        headers={"Prefer": "return=representation, timezone=Asia/Kolkata"},
    )
    assert response.status_code == 200
    assert response.json[0]["joined_at"] == "2024-01-01T05:30:00+05:30"
    assert response.headers["Preference-Applied"] == "return=representation, timezone=Asia/Kolkata"


def test_timezone_reads_text_without_offset_in_that_zone(client):
    # SET LOCAL timezone also decides how PostgreSQL reads a timestamptz sent without an offset.
    response = client.patch(
        "/api/members?id=eq.1",
        json={"joined_at": "2024-01-01T12:00:00"},
        headers={"Prefer": "return=representation, timezone=Asia/Kolkata"},
    )
    read_back = client.get(
        "/api/members?id=eq.1&select=joined_at", headers={"Prefer": "timezone=UTC"}
    )
    assert response.status_code == 200
    assert read_back.json == [{"joined_at": "2024-01-01T06:30:00+00:00"}]
