"""Streaming CSV and NDJSON export of exactly the rows a table page shows.

`/browse/<schema>/<name>/export.csv` (or `.ndjson`) takes the table page's query string:
filters, `order=` and `select=` mean what they mean on the page and in the API. Paging is
ignored: an export starts at the first row and streams every matching row, in the read's
order with the primary key appended (a total order; views without `order=` come unordered),
up to EXPORT_MAX_ROWS. Cells are encoded as the API encodes them (`csv_text`, `dumps`); CSV
text cells that start like a spreadsheet formula (`=`, `+`, `-`, `@`, tab, CR) get a `'` in
front, as the API's do with CSV_SAFE_CELLS=true.

Rows come from a server-side cursor, BATCH_ROWS per fetch, each batch encoded and handed
to the server at once, so memory stays flat whatever the size. The export owns a Session
made like the request's (the same options and bind: a read-only transaction, the request's
role): opened in the view, closed after the last row or when the server closes the
response (the client went away, an error), whichever comes first. It cannot use the scoped
Session: Flask runs the view's teardown, which removes that, before the first chunk is sent.

- Errors found before the first byte (unknown table or column, a bad filter, a refused
  permission, a failure of the first batch) are ordinary error responses.
- A database error after the first byte cannot change the status: it is logged and the
  response is cut off without its final chunk, so a client sees an incomplete transfer,
  never a short file that looks complete.
- REQUEST_TIMEOUT bounds an export as any request: before its first byte it is a 504;
  after, each batch's fetch is bounded by the time left and none is fetched past the
  deadline, so the transfer is cut off (and logged) and the connection goes back to the pool.
- `X-Export-Row-Cap: N` comes with every export. The headers leave before anyone knows
  whether the cap will cut the rows, and CSV has no place for a trailer, so an export of
  exactly N rows may have been cut (the server logs it when it was).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from itertools import chain

import sqlalchemy as sa
from flask import Blueprint, Response, request
from sqlalchemy import orm
from sqlalchemy.engine import Row

from db.engine import first_line
from db.session import Session

from ..app.deadline import Deadline, current_deadline
from ..app.responses import attachment
from ..errors import ApiError, RequestTimeout
from ..pipeline.plan import Paging, plan_read
from ..pipeline.statement import select_for
from ..pipeline.values import csv_text, dumps
from ..state import app_state, current_catalog
from .browsing import parse_browse

log = logging.getLogger("webapp.export")  # its name before the move to pages/

bp = Blueprint("export", __name__)

BATCH_ROWS = 2000  # rows per fetch from the server-side cursor, and per chunk sent
MEDIA_TYPES = {"csv": "text/csv", "ndjson": "application/x-ndjson"}


@bp.get("/browse/<schema>/<name>/export.<any(csv, ndjson):fmt>")
def export_rows(schema: str, name: str, fmt: str) -> Response:
    """Every row the table page's query string selects, streamed as CSV or NDJSON, up to the cap."""
    relation = current_catalog().relation(name, schema)
    settings = app_state().settings
    browse = parse_browse(relation, request.args, settings.page_max_size)
    cap = settings.export_max_rows
    plan = plan_read(current_catalog(), relation, browse.read, Paging(cap=cap, stream=True))
    stmt = select_for(plan)
    release = ExitStack()  # result, session, then the slot: once, whichever way it ends
    release.callback(take_export_slot(settings.export_concurrency))
    session = Session.session_factory(bind=Session.get_bind())
    release.callback(session.close)
    try:
        result = session.execute(stmt, execution_options={"yield_per": BATCH_ROWS})
        release.callback(result.close)
        batches = result.partitions()
        first = next(batches, [])  # a failure here is still an ordinary error response
    except BaseException:
        release.close()
        raise
    keys = list(result.keys())
    label = relation.qualified_name
    later = within_deadline(current_deadline(), session, batches)
    rows = capped_rows(chain([first], later), cap, label, release.close)
    body = csv_chunks(keys, rows) if fmt == "csv" else ndjson_chunks(keys, rows)
    response = Response(body, mimetype=MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = attachment(f"{label}.{fmt}")
    response.headers["X-Export-Row-Cap"] = str(cap)
    response.call_on_close(release.close)  # a body closed early (the client left) or never read
    return response


def take_export_slot(slots: int) -> Callable[[], None]:
    """One of EXPORT_CONCURRENCY slots, or a 503 with Retry-After; returns its release."""
    semaphore = app_state().export_slots
    if not semaphore.acquire(blocking=False):
        raise ApiError(
            503,
            f"{slots} exports are streaming already (EXPORT_CONCURRENCY); try again shortly",
            code="PGRST003",
            headers={"Retry-After": "5"},
        )
    return semaphore.release


def within_deadline(
    deadline: Deadline | None, session: orm.Session, batches: Iterator[list[Row]]
) -> Iterator[list[Row]]:
    """The batches, each fetched within the request's deadline (they run after the view returns)."""
    if deadline is None:
        yield from batches
        return
    dbapi_connection = session.connection().connection.dbapi_connection
    while True:
        deadline.bound(dbapi_connection)  # RequestTimeout once it has passed
        batch = next(batches, None)
        if batch is None:
            return
        yield batch


def capped_rows(
    batches: Iterable[list[Row]], cap: int, label: str, done: Callable[[], None]
) -> Iterator[list[Row]]:
    """The rows, batch by batch, at most cap; done() runs however the rows end."""
    sent = 0
    try:
        for batch in batches:
            rows = batch[: cap - sent]
            sent += len(rows)
            if rows:
                yield rows
            if len(rows) < len(batch):  # the statement fetches one row beyond the cap
                log.warning("export of %s cut at EXPORT_MAX_ROWS=%d rows", label, cap)
                return
    except sa.exc.DBAPIError as exc:
        log.error("export of %s failed after %d rows: %s", label, sent, first_line(exc.orig))
        raise  # the server drops the connection: the transfer is visibly incomplete
    except RequestTimeout as exc:
        log.warning("export of %s stopped after %d rows: %s", label, sent, exc.message)
        raise
    finally:
        done()  # the connection goes back to the pool with the last row


def csv_chunks(keys: list[str], batches: Iterable[list[Row]]) -> Iterator[bytes]:
    """The header line, then each batch as CSV lines: the API's CSV with CSV_SAFE_CELLS on."""
    yield csv_text(keys, []).encode()
    for rows in batches:
        # Downloads from the pages go to spreadsheets: text that starts a formula gets a '.
        yield csv_text(keys, rows, header=False, safe=True).encode()


def ndjson_chunks(keys: list[str], batches: Iterable[list[Row]]) -> Iterator[bytes]:
    """One JSON object per line, each encoded as the API encodes a row."""
    for rows in batches:
        yield b"".join(dumps(dict(zip(keys, row, strict=True))) + b"\n" for row in rows)
