"""uvicorn's `websockets-sansio` WebSocket protocol, with one fix.

A handshake request its parser refuses (a request line or header over
8 KB: a browser with many cookies for the domain) gets the 431 (or 400)
answer that `websockets` prepared, and the connection closes. uvicorn 0.54
only writes what `websockets` prepares after a complete request, so this
answer was never sent and the client waited for ever (found by an outside
test). Served by the Procfile's
`--ws config.websocket_protocol:WebSocketProtocol`.
"""

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # No request came out of the bytes (uvicorn answers those itself).
        refused = not hasattr(self, "request") and self.conn.handshake_exc is not None
        if refused and not self.transport.is_closing():
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()
