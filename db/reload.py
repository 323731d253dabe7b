"""Schema reload without restart: a new catalog is built off the request path and swapped whole.

Triggers: `NOTIFY <channel>, 'reload schema'` (a LISTEN thread that reconnects when its
connection drops), SIGHUP and the admin endpoint (both call request_reload), and a
request that met undefined_table/undefined_column. Bursts are debounced: one reload
follows a quiet moment. A failed reload keeps the old catalog and records why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy.engine import Engine

from .catalog import CatalogHolder, reflect_catalog
from .engine import first_line

log = logging.getLogger("db.reload")
RELOAD_PAYLOAD = "reload schema"


@dataclass(frozen=True)
class ReloadResult:
    """What the last reload did: when, whether it worked, and why not."""

    finished_at: float
    ok: bool
    seconds: float
    error: str | None = None
    reason: str = ""


class Reloader:
    """Rebuilds the catalog in a background thread whenever asked, debouncing bursts."""

    def __init__(
        self,
        engine: Engine,
        schemas: Iterable[str],
        holder: CatalogHolder,
        *,
        channel: str | None = None,
        debounce: float = 0.5,
        hidden: Iterable[str] = (),
        application_name: str = "pgfront-listen",
    ):
        self.hidden = tuple(hidden)
        # Lines about settings the new snapshot leaves dangling, logged after each reload.
        self.check: Callable[[], list[str]] | None = None
        self.application_name = application_name  # of the LISTEN connection
        self.engine = engine
        self.schemas = tuple(schemas)
        self.holder = holder
        self.channel = channel
        self.debounce = debounce
        self.last: ReloadResult | None = None
        self.count = 0  # reloads done, for tests and metrics
        self.listening = False
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._reasons: list[str] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the reload worker and, with a channel, the LISTEN thread."""
        targets = [self._work] + ([self._listen] if self.channel else [])
        for target in targets:
            thread = threading.Thread(
                target=target, name=f"pgfront-{target.__name__[1:]}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, wait: bool = True) -> None:
        """Stop the threads (they finish within about a second); wait=False only tells them."""
        self._stopping.set()
        self._wanted.set()
        if wait:
            for thread in self._threads:
                thread.join(timeout=5)

    def request_reload(self, reason: str) -> None:
        """Ask for a reload soon; many asks in a burst give one reload."""
        self._reasons.append(reason)
        self._wanted.set()

    def reload_now(self, reason: str = "direct") -> ReloadResult:
        """Build a new catalog and swap it in; on failure keep the old one. Returns the result."""
        started = time.perf_counter()
        try:
            # The last snapshot's hiding keeps what a HIDDEN entry named hidden after a rename.
            previous = self.holder.current.hiding
            catalog = reflect_catalog(self.engine, self.schemas, self.hidden, previous)
        except Exception as exc:  # noqa: BLE001 - any failure must leave the old catalog serving
            result = ReloadResult(
                time.time(), False, time.perf_counter() - started, first_line(exc), reason
            )
            log.error(
                "schema reload (%s) failed, the previous catalog stays: %s", reason, result.error
            )
        else:
            self.holder.swap(catalog)
            result = ReloadResult(time.time(), True, time.perf_counter() - started, None, reason)
            log.info(
                "schema reloaded (%s): %d relations in %.2fs",
                reason,
                len(catalog.relations),
                result.seconds,
            )
            for line in self.check() if self.check else ():
                log.warning("after the schema reload (%s): %s", reason, line)
        self.last = result
        self.count += 1
        return result

    def _work(self) -> None:
        """Wait for asks; `debounce` seconds after the first of a burst, reload once."""
        while not self._stopping.is_set():
            self._wanted.wait()
            if self._stopping.is_set():
                return
            # Debounce: asks arriving within `debounce` of the first give one reload, and a
            # steady stream of asks still gets a reload every `debounce` seconds.
            if self._stopping.wait(self.debounce):
                return
            self._wanted.clear()
            reasons, self._reasons = self._reasons, []
            self.reload_now(", ".join(sorted(set(reasons))) or "request")

    def _listen(self) -> None:
        """LISTEN on the channel; reconnect (with backoff) whenever the connection drops."""
        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        backoff, connected_before = 0.5, False
        while not self._stopping.is_set():
            try:
                with psycopg.connect(
                    url, autocommit=True, connect_timeout=3, application_name=self.application_name
                ) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self.listening, backoff = True, 0.5
                    if connected_before:  # notifications sent while we were away are lost
                        self.request_reload("listen reconnected")
                    connected_before = True
                    while not self._stopping.is_set():
                        for notify in conn.notifies(timeout=1.0, stop_after=1):
                            if notify.payload.strip() == RELOAD_PAYLOAD:
                                self.request_reload("notify")
                        conn.execute("SELECT 1")  # notices a dropped connection within a second
            except psycopg.Error as exc:
                self.listening = False
                log.warning(
                    "LISTEN %s lost (%s); reconnecting in %.1fs",
                    self.channel,
                    first_line(exc),
                    backoff,
                )
                if self._stopping.wait(backoff):
                    return
                backoff = min(backoff * 2, 10.0)
        self.listening = False
