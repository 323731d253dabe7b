"""The baseline: Flask, one psycopg connection per thread, rows as dicts encoded with orjson.

What a hand-written app that cares about speed does: autocommit (no BEGIN/ROLLBACK around a
read), numeric loaded as float (orjson encodes it natively), datetimes encoded by orjson as
ISO 8601. It answers the same JSON as pgfront for each workload (the suite checks).
"""

from __future__ import annotations

import threading

import orjson
import psycopg
from flask import Flask, Response, request
from psycopg.rows import dict_row, tuple_row
from psycopg.types.numeric import FloatLoader

COLUMNS = "id, name, price, category_id, created_at, in_stock"


def create_app(conninfo: str) -> Flask:
    """The app; each waitress thread opens its own connection on first use."""
    app = Flask(__name__)
    local = threading.local()

    def connection() -> psycopg.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = psycopg.connect(conninfo, autocommit=True, row_factory=dict_row)
            conn.adapters.register_loader("numeric", FloatLoader)
            local.conn = conn
        return conn

    def json_rows(query: str, params: tuple) -> Response:
        rows = connection().execute(query, params).fetchall()
        return Response(orjson.dumps(rows), mimetype="application/json")

    @app.get("/items")
    def list_items():
        """The first rows by id, or the rows after ?after=<id> (keyset)."""
        limit = request.args.get("limit", 20, type=int)
        after = request.args.get("after", type=int)
        if after is None:
            return json_rows(f"SELECT {COLUMNS} FROM bench.items ORDER BY id LIMIT %s", (limit,))
        return json_rows(
            f"SELECT {COLUMNS} FROM bench.items WHERE id > %s ORDER BY id LIMIT %s",
            (after, limit),
        )

    @app.get("/items/<int:item_id>")
    def item(item_id: int):
        """One row by primary key, as a list of one like pgfront's ?id=eq.N."""
        return json_rows(f"SELECT {COLUMNS} FROM bench.items WHERE id = %s", (item_id,))

    @app.get("/categories/<int:category_id>/items")
    def category_items(category_id: int):
        """A category's newest rows."""
        limit = request.args.get("limit", 20, type=int)
        return json_rows(
            f"SELECT {COLUMNS} FROM bench.items WHERE category_id = %s"
            " ORDER BY created_at DESC LIMIT %s",
            (category_id, limit),
        )

    @app.get("/items-with-category")
    def items_with_category():
        """The first rows by id, each with its category as a nested object (one JOIN)."""
        limit = request.args.get("limit", 20, type=int)
        cursor = connection().cursor(row_factory=tuple_row)
        cursor.execute(
            "SELECT i.id, i.name, i.price, i.category_id, i.created_at, i.in_stock, c.id, c.name"
            " FROM bench.items i JOIN bench.categories c ON c.id = i.category_id"
            " ORDER BY i.id LIMIT %s",
            (limit,),
        )
        rows = [
            {
                "id": r[0],
                "name": r[1],
                "price": r[2],
                "category_id": r[3],
                "created_at": r[4],
                "in_stock": r[5],
                "categories": {"id": r[6], "name": r[7]},
            }
            for r in cursor.fetchall()
        ]
        return Response(orjson.dumps(rows), mimetype="application/json")

    @app.post("/items")
    def create_item():
        """Insert one row from a JSON object; 201 with no body."""
        row = orjson.loads(request.get_data())
        connection().execute(
            "INSERT INTO bench.items (name, price, category_id, created_at, in_stock)"
            " VALUES (%(name)s, %(price)s, %(category_id)s, %(created_at)s, %(in_stock)s)",
            row,
        )
        return Response(status=201)

    return app


if __name__ == "__main__":
    from .serving import serve

    serve(create_app, "The bare Flask + psycopg baseline of the benchmarks.")
