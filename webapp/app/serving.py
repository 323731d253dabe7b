"""How run.py serves with waitress: the listening socket, waitress's limits, a header deadline.

waitress takes its limits from its own options, which an app cannot set: run.py passes
them from the settings, and under `waitress-serve` a warning names the flags to add.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
from pathlib import Path

from waitress.adjustments import Adjustments, asbool

from ..config import Settings

log = logging.getLogger("webapp")

# Open files besides the clients' connections: the listener, logs, temporary body files.
_OTHER_FILES = 64


def waitress_limits(settings: Settings) -> list[tuple[str, int | bool, str | None]]:
    """(waitress option, value, the setting it comes from) for each limit pgfront gives waitress."""
    return [
        # waitress refuses a declared body of this size or more: one past the largest accepted
        ("max_request_body_size", settings.max_body_bytes + 1, "MAX_BODY_BYTES"),
        ("connection_limit", settings.connection_limit, "CONNECTION_LIMIT"),
        ("channel_timeout", settings.channel_timeout, "CHANNEL_TIMEOUT"),
        # select() cannot watch a file descriptor past 1023; poll() has no such bound
        ("asyncore_use_poll", True, None),
    ]


def check_waitress_serve(settings: Settings, argv: list[str]) -> None:
    """Under waitress-serve, warn about each limit its command line leaves at waitress's default."""
    program = Path(argv[0]) if argv else Path()
    if program.name != "waitress-serve" and program.parent.name != "waitress":
        return
    given, _ = Adjustments.parse_args(argv[1:])  # waitress-serve has parsed it already
    missing = [
        (name, value, setting)
        for name, value, setting in waitress_limits(settings)
        if _as_given(value, given.get(name, getattr(Adjustments, name))) != value
    ]
    if missing:
        flags = " ".join(_flag(name, value) for name, value, _ in missing)
        names = ", ".join(setting for _, _, setting in missing if setting)
        log.warning(
            "waitress-serve applies waitress's own limits, not pgfront's: add %s (%s); "
            "HEADER_TIMEOUT applies only under run.py",
            flags,
            names,
        )


def _as_given(value: int | bool, given: object) -> int | bool:
    """A waitress-serve option's value (text on the command line) as the type of ours."""
    return asbool(given) if isinstance(value, bool) else int(given)


def _flag(name: str, value: int | bool) -> str:
    """The waitress-serve flag that sets this option to this value."""
    flag = "--" + name.replace("_", "-")
    return flag if value is True else f"{flag}={value}"


def connection_limit(settings: Settings) -> int:
    """CONNECTION_LIMIT, with the open-file limit raised to hold it; lowered (a warning) if it cannot be."""
    try:
        import resource
    except ImportError:  # Windows: no open-file limit to raise
        return settings.connection_limit
    pools = (settings.pool_size + settings.max_overflow + 1) * (1 + len(settings.databases))
    others = _OTHER_FILES + pools
    wanted = settings.connection_limit + others
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return settings.connection_limit
    fits = max(soft - others, 1)
    log.warning(
        "CONNECTION_LIMIT=%d lowered to %d: this process may open %d files (ulimit -n); "
        "raise that limit to allow more connections",
        settings.connection_limit,
        fits,
        soft,
    )
    return fits


def bind_listener(host: str, port: int) -> socket.socket:
    """A socket bound to HOST and PORT, not listening yet: a port in use fails before anything starts."""
    try:
        addresses = Adjustments(host=host, port=port).listen  # waitress's own reading of a host
    except ValueError:
        raise ValueError(
            f"HOST={host!r} is not a name or address to listen on, e.g. 127.0.0.1"
        ) from None
    family, kind, proto, address = one_address(addresses, host)
    listener = socket.socket(family, kind, proto)
    try:
        if family == socket.AF_INET6:
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        # as waitress does: a restart need not wait for the old connections' TIME_WAIT
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except OSError as exc:
        listener.close()
        raise ValueError(_cannot_listen(host, port, exc)) from None
    return listener


def one_address(addresses: list[tuple], host: str) -> tuple:
    """The one address a host names; a host naming several is a setting to fix."""
    if len(addresses) != 1:
        raise ValueError(
            f"HOST={host} resolves to several addresses; give one, such as 127.0.0.1 or ::1"
        )
    return addresses[0]


def _cannot_listen(host: str, port: int, error: OSError) -> str:
    """One line that says why the address cannot be listened on, and what to do."""
    if error.errno == errno.EADDRINUSE:
        return (
            f"PORT={port} is in use on {host}: another program listens there; "
            "stop it or choose another port, e.g. --port 0 for any free one"
        )
    if error.errno == errno.EACCES:
        return (
            f"PORT={port} needs privileges this user does not have; use one above 1023, e.g. 8000"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return f"HOST={host} is not an address of this machine, e.g. 127.0.0.1"
    return f"cannot listen on HOST={host} PORT={port}: {error.strerror or error}"


class HeaderDeadline:
    """Closes connections that take longer than HEADER_TIMEOUT to send a request's headers.

    waitress closes only idle connections (channel_timeout): one that sends a header line every
    few seconds is never idle, and a hundred of them would hold every connection (slowloris).
    """

    def __init__(self, seconds: float, every: float = 1.0):
        self.seconds = seconds
        self.every = every
        self._next_check = 0.0
        self._since: dict[object, float] = {}  # what is awaited -> since when

    def check(self, server) -> None:
        """Close the connections past their deadline; from the event loop, at most once a second."""
        now = time.time()  # waitress times its connections by the wall clock
        if now < self._next_check:
            return
        self._next_check = now + self.every
        since, late = {}, []
        for channel in list(server.active_channels.values()):
            awaited = _awaited_headers(channel)
            if awaited is None:
                continue
            key, started = awaited
            started = self._since.get(key, started or now)
            if now - started > self.seconds:
                late.append(channel)
            else:
                since[key] = started
        self._since = since
        for channel in late:
            channel.will_close = True  # as waitress's own idle check does: closed by the loop
        if late:
            log.warning(
                "closed %d connection(s) that sent no complete request headers in "
                "HEADER_TIMEOUT=%gs",
                len(late),
                self.seconds,
            )


def _awaited_headers(channel) -> tuple[object, float | None] | None:
    """(the thing awaited, since when if known) for a connection owing request headers, else None."""
    if channel.requests:  # a request is being served; its time is the statement timeouts' business
        return None
    request = channel.request
    if request is None:
        # Connected and silent: owes its first request's headers. Idle between requests is
        # channel_timeout's business.
        never_read = channel.last_activity == channel.creation_time
        return (channel, channel.creation_time) if never_read else None
    return None if request.headers_finished else (request, None)
