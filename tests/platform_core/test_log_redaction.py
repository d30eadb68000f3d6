"""A credential never reaches a log line.

Socket clients pass a single-use ticket as `?ticket=`, and uvicorn logs
every request line (`uvicorn.access`) and every socket handshake
(`uvicorn.error`) with the query string. platform_core.observability's
filter blanks the values; the real server, with its access log on as
`make run` has it, shows that it does, on the lines that are written.
"""

import asyncio
import http.client
import io
import logging

import pytest
from django.db import connections
from django_tenants.utils import tenant_context
from uvicorn.logging import AccessFormatter

from platform_core.access import Credential
from platform_core.observability import RedactCredentials, redact_credentials
from platform_core.tokens import api_token_create, ws_ticket_issue
from tests.servers import uvicorn_server, websocket


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/healthz?ticket=SECRET", "/healthz?ticket=[redacted]"),
        ("/ws/stores/1/orders/?after=5&ticket=abc&x=1", "/ws/stores/1/orders/?after=5&ticket=[redacted]&x=1"),
        (
            "/x?token=a&access_token=b&key=c&secret=d&signature=e&password=f&api_key=g",
            "/x?token=[redacted]&access_token=[redacted]&key=[redacted]&secret=[redacted]&signature=[redacted]"
            "&password=[redacted]&api_key=[redacted]",
        ),
        ("/x?%74icket=SECRET", "/x?%74icket=[redacted]"),  # the server decodes the name too
        ("/x?TICKET=SECRET", "/x?TICKET=[redacted]"),
        ("{'query_string': b'ticket=SECRET'}", "{'query_string': b'ticket=[redacted]'}"),
        ("Cookie: sessionid=S; csrftoken=C", "Cookie: sessionid=[redacted]; csrftoken=[redacted]"),
        ("ticket=b'SECRET' and token='SECRET'", "ticket=[redacted] and token=[redacted]"),
        # A quote in another parameter's value must not hide what follows it.
        ("/ws/?a=b'&ticket=SECRET&c='", "/ws/?a=b'&ticket=[redacted]&c='"),
        ('/x?a="&ticket=SECRET&c="', '/x?a="&ticket=[redacted]&c="'),
        ("/api/orders?a='&token=SECRET&b='", "/api/orders?a='&token=[redacted]&b='"),
        ("Authorization: Bearer pgn_abc", "Authorization: [redacted]"),
        (
            "{'HTTP_AUTHORIZATION': 'Bearer pgn_abc', 'HTTP_HOST': 'x'}",
            "{'HTTP_AUTHORIZATION': '[redacted]', 'HTTP_HOST': 'x'}",
        ),
        (
            "[(b'authorization', b'Bearer pgn_abc'), (b'host', b'x')]",
            "[(b'authorization', b'[redacted]'), (b'host', b'x')]",
        ),
        ("/x?monkey=1&tokenizer=2&after=3", "/x?monkey=1&tokenizer=2&after=3"),
        ("the authorization check failed", "the authorization check failed"),
    ],
)
def test_credential_values_are_redacted_and_nothing_else(text, expected):
    assert redact_credentials(text) == expected


def _record(msg, args, exc_info=None):
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, msg, args, exc_info)


def test_uvicorn_access_format_still_works_after_redaction():
    # uvicorn's access formatter unpacks record.args: they must stay a 5-tuple.
    record = _record('%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET", "/healthz?ticket=SECRET", "1.1", 200))
    assert RedactCredentials().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    assert line == '127.0.0.1:5 - "GET /healthz?ticket=[redacted] HTTP/1.1" 200 OK'


def test_a_credential_the_template_builds_or_a_traceback_carries_is_redacted():
    built = _record("socket ticket=%s opened", (b"SECRET",))
    RedactCredentials().filter(built)
    assert built.getMessage() == "socket ticket=[redacted] opened"
    try:
        raise ValueError("bad /ws/notifications/?ticket=SECRET")
    except ValueError as error:
        failed = _record("failed", (), exc_info=(type(error), error, error.__traceback__))
    RedactCredentials().filter(failed)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.emit(failed)
    assert "SECRET" not in stream.getvalue() and "ticket=[redacted]" in stream.getvalue()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("log_level", ["info", "trace"])  # `make run`'s, and uvicorn's most verbose (ASGI scopes)
def test_the_server_log_has_the_request_lines_without_tickets_or_tokens(world, tmp_path, log_level):
    with tenant_context(world.acme.tenant):
        row, api_token = api_token_create(user=world.acme.customer, name="log test")
        ticket = ws_ticket_issue(user=world.acme.customer, credential=Credential(token_id=row.pk))
    secrets = {
        "SECRET123": "/healthz?ticket=SECRET123",
        "SECRET789": "/api/notifications?access_token=SECRET789&page_size=5",
        "SECRET999": "/?%74oken=SECRET999",
        "SECRET321": "/api/orders?a='&token=SECRET321&b='",
    }
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log, uvicorn_server(output=log, log_level=log_level) as server:
        for path in secrets.values():
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            # A real API token in the header: answered, and never logged.
            conn.request("GET", path, headers={"Host": "acme.localhost", "Authorization": f"Bearer {api_token}"})
            assert conn.getresponse().status < 500
            conn.close()

        async def sockets():
            # A real ticket (accepted, the inbox arrives) and a made-up one (refused).
            async with websocket(server, f"/ws/notifications/?ticket={ticket}", host="acme.localhost") as ws:
                assert '"notifications.unread"' in await asyncio.wait_for(ws.recv(), 10)
            async with websocket(server, "/ws/notifications/?ticket=SECRET456", host="acme.localhost") as ws:
                with pytest.raises(Exception):  # noqa: B017 (closed with 4401)
                    await asyncio.wait_for(ws.recv(), 10)

        asyncio.run(sockets())
    connections.close_all()

    output = log_path.read_text()
    # The lines are there (so this cannot pass on an empty log)...
    assert '"GET /healthz?ticket=[redacted] HTTP/1.1" 200' in output, output
    assert '"GET /api/notifications?access_token=[redacted]&page_size=5 HTTP/1.1"' in output, output
    assert '"GET /?%74oken=[redacted] HTTP/1.1"' in output, output
    assert output.count('"WebSocket /ws/notifications/?ticket=[redacted]" [accepted]') == 2, output
    if log_level == "trace":
        assert "'query_string': b'ticket=[redacted]'" in output, output
    # ...and no credential is.
    for secret in [*secrets, "SECRET456", ticket, api_token]:
        assert secret not in output, f"{secret} in the server log:\n{output}"
