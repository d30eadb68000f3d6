"""One dashboard client that never reads: the slow reader of the fan-out rows.

    python -m tests.bench.slow_reader '<json config>'

Opens a store socket by hand (a small receive buffer, the upgrade read and
nothing after it), prints {"ready": true} and holds the connection until a
line arrives on stdin. The server must keep serving everyone else: the
socket's outbox fills, its writes stall, and it is closed with 4408.
"""

import base64
import json
import os
import socket
import sys


def main(config: dict) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((config["connect_host"], config["connect_port"]))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {config['path']} HTTP/1.1\r\nHost: {config['host']}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {config['origin']}\r\nCookie: {config['cookie']}\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise SystemExit("closed during the handshake")
        head += chunk
    ready = head.startswith(b"HTTP/1.1 101")
    print(json.dumps({"ready": ready}), flush=True)
    sys.stdin.readline()  # hold, never read, until told
    sock.close()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
