"""uvicorn's HTTP/1.1 protocols with a time limit on reading a request's headers.

uvicorn closes idle keep-alive connections, but a client that opens a connection and
sends its headers a byte at a time (slowloris) holds it forever: two thousand such
clients held two thousand connections.  Here a connection must deliver a request's
complete headers within ``HEADER_TIMEOUT_S`` of opening (or of its last response);
otherwise it is closed.  (The body has its own limit in the app: 408.)

The limit is added to uvicorn's httptools protocol (its fast C parser, which
``uvicorn[standard]`` installs) and, where httptools is missing, to its h11 one.
"""

from __future__ import annotations

import asyncio
import os

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # (httptools not installed)
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

#: Seconds a client has to send a request's headers (``GOVREPORT_HEADER_TIMEOUT_S``).
HEADER_TIMEOUT_S = float(os.environ.get("GOVREPORT_HEADER_TIMEOUT_S") or 10)


class _HeaderTimeout:
    """The timer, for a protocol class that calls ``_headers_in`` when a request's
    headers are complete."""

    _header_timer: asyncio.TimerHandle | None = None
    _awaiting_headers = True

    def _arm(self) -> None:
        self._disarm()
        self._awaiting_headers = True
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_in(self) -> None:
        self._awaiting_headers = False
        self._disarm()

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._awaiting_headers and not self.transport.is_closing():
            self.transport.close()  # the request's headers never came in full

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's headers

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


class HeaderTimeoutH11Protocol(_HeaderTimeout, H11Protocol):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._headers_in()


if HttpToolsProtocol is not None:
    class HeaderTimeoutHttpToolsProtocol(_HeaderTimeout, HttpToolsProtocol):
        def on_headers_complete(self) -> None:
            self._headers_in()
            super().on_headers_complete()
else:  # (httptools not installed)
    HeaderTimeoutHttpToolsProtocol = None  # type: ignore[assignment,misc]


def header_timeout_protocol() -> type:
    """The protocol class for uvicorn's ``http`` setting: httptools' where it is
    installed (module-level classes: uvicorn's worker processes import them)."""
    return HeaderTimeoutHttpToolsProtocol or HeaderTimeoutH11Protocol
