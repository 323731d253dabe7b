"""PostgREST's headers: Range and Content-Range, Prefer: count=..., Accept formats, HEAD."""

import csv
import io

import pytest
import sqlalchemy as sa


def _count(db_connection, query):
    return db_connection.execute(sa.text(query)).scalar()


def test_range_header_pages(client):
    response = client.get("/api/branches?order=id", headers={"Range": "2-3"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json] == [3, 4]
    assert response.headers["Content-Range"] == "2-3/*"


def test_exact_count_gives_total_and_206(client, db_connection):
    total = _count(db_connection, "SELECT count(*) FROM loans WHERE returned_at IS NULL")
    response = client.get(
        "/api/loans?returned_at=is.null&limit=10", headers={"Prefer": "count=exact"}
    )
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"0-9/{total}"
    assert response.headers["Preference-Applied"] == "count=exact"
    whole = client.get("/api/branches", headers={"Prefer": "count=exact"})
    assert whole.status_code == 200 and whole.headers["Content-Range"] == "0-5/6"


def test_planned_count_is_the_planner_estimate(client, db_connection):
    response = client.get("/api/loans?limit=1", headers={"Prefer": "count=planned"})
    planned = int(response.headers["Content-Range"].split("/")[1])
    reltuples = _count(
        db_connection, "SELECT reltuples::bigint FROM pg_class WHERE oid = 'loans'::regclass"
    )
    assert planned == reltuples


def test_estimated_count_is_exact_when_small(make_app, db_connection):
    client = make_app(MAX_ROWS="100").test_client()
    small = client.get("/api/branches?limit=2", headers={"Prefer": "count=estimated"})
    assert small.headers["Content-Range"] == "0-1/6"
    big = client.get("/api/loans?limit=2", headers={"Prefer": "count=estimated"})
    assert int(big.headers["Content-Range"].split("/")[1]) > 100


def test_no_count_without_prefer(client):
    assert client.get("/api/loans?limit=5").headers["Content-Range"] == "0-4/*"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Range": "5-2"}, 416),
        ({"Range": "abc"}, 416),
        ({"Range": "0-4", "Range-Unit": "bytes"}, 416),
        ({"Accept": "image/png"}, 406),
    ],
)
def test_bad_protocol_headers(client, headers, status):
    response = client.get("/api/branches", headers=headers)
    assert response.status_code == status
    assert response.json["code"] in ("PGRST103", "PGRST107")


def test_offset_beyond_total_is_416(client):
    response = client.get("/api/branches?offset=50", headers={"Prefer": "count=exact"})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == "*/6"


def test_single_object(client):
    response = client.get(
        "/api/branches?name=eq.Harbour", headers={"Accept": "application/vnd.pgrst.object+json"}
    )
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.pgrst.object+json"
    assert response.json["name"] == "Harbour"
    many = client.get("/api/branches", headers={"Accept": "application/vnd.pgrst.object+json"})
    assert many.status_code == 406 and many.json["code"] == "PGRST116"


def test_csv(client, db_connection):
    db_connection.execute(
        sa.text("UPDATE branches SET phone = NULL, city = 'Quay, \"North\"' WHERE id = 1")
    )
    response = client.get(
        "/api/branches?order=id&select=id,name,city,phone", headers={"Accept": "text/csv"}
    )
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["id", "name", "city", "phone"]
    assert rows[1] == ["1", "Central", 'Quay, "North"', ""]
    assert len(rows) == 7


def test_head_has_headers_and_no_body(client):
    response = client.head("/api/branches?limit=2", headers={"Prefer": "count=exact"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == "0-1/6"
    assert response.get_data() == b""
