"""Answers sent at the ASGI edge, before Django sees the request.

ASGI middleware (the sign-in gate, body limits) refuses some requests
without Django: this is their one way to answer, in the shape the API's own
errors have (`{"error": {"code", "message", "fields"}}`) under /api/ and as
plain text elsewhere. Django's middleware never runs for these answers, so
they carry no page that would need its security headers: no HTML at all.
"""

import json


async def refuse(
    send, *, path: str, status: int, code: str, message: str, retry_after: int | None = None, close: bool = False
) -> None:
    """Send a complete response. `close` asks the server to close the
    connection after it (the client may still be sending a body nobody will
    read)."""
    if path.startswith("/api/"):
        body = json.dumps({"error": {"code": code, "message": message, "fields": {}}}).encode()
        content_type = b"application/json"
    else:
        body = (message + "\n").encode()
        content_type = b"text/plain; charset=utf-8"
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"cache-control", b"no-store"),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
