"""uvicorn's HTTP/1.1 protocol with a time limit on reading a request's headers.

uvicorn closes idle keep-alive connections, but a client that opens a connection and
sends its headers a byte at a time (slowloris) holds it forever: two thousand such
clients held two thousand connections.  Here a connection must deliver a request's
complete headers within ``HEADER_TIMEOUT_S`` of opening (or of its last response);
otherwise it is closed.  (The body has its own limit in the app: 408.)
"""

from __future__ import annotations

import asyncio
import os

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

#: Seconds a client has to send a request's headers (``GOVREPORT_HEADER_TIMEOUT_S``).
HEADER_TIMEOUT_S = float(os.environ.get("GOVREPORT_HEADER_TIMEOUT_S") or 10)


class HeaderTimeoutH11Protocol(H11Protocol):
    _header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()  # the request's headers never came in full

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the headers are in

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's headers

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
