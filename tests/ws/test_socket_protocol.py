"""What every socket does with client frames, good and bad."""

import json

import pytest

from tests.factories import login_cookie
from ws import close_codes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def socket(open_socket, acme, customer):
    socket = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, customer))
    assert (await socket.receive())["type"] == "notifications.unread"
    return socket


async def still_open(socket) -> bool:
    await socket.send({"type": "ping"})
    return await socket.receive() == {"type": "pong"}


async def test_ping_gets_pong(socket):
    await socket.send({"type": "ping"})
    assert await socket.receive() == {"type": "pong"}


@pytest.mark.parametrize("text", ["{not json", "", "{'type': 'ping'}", "\x00\x01", '{"type": "ping"'])
async def test_broken_json_gets_an_error_frame_and_the_socket_stays_open(socket, text):
    await socket.send_text(text)
    frame = await socket.receive()
    assert frame["type"] == "error" and frame["code"] == "invalid_json"
    assert frame["detail"]
    assert await still_open(socket)


@pytest.mark.parametrize(
    "message", [[], [{"type": "ping"}], "ping", 42, None, {}, {"type": 1}, {"type": None}, {"kind": "ping"}]
)
async def test_frame_that_is_not_an_object_with_a_string_type_is_invalid(socket, message):
    await socket.send_text(json.dumps(message))
    frame = await socket.receive()
    assert frame["type"] == "error" and frame["code"] == "invalid_message"
    assert await still_open(socket)


@pytest.mark.parametrize("message_type", ["pong", "notifications.delete_everything", "x" * 5000, "__init__", "receive"])
async def test_unknown_type_gets_an_error_frame(socket, message_type):
    await socket.send({"type": message_type})
    frame = await socket.receive()
    assert frame["type"] == "error" and frame["code"] == "unknown_type"
    assert len(frame["detail"]) < 200, "the error must not echo a huge hostile value back"
    assert await still_open(socket)


async def test_binary_frame_is_refused_with_an_error_frame(socket):
    await socket.communicator.send_to(bytes_data=b'{"type": "ping"}')
    frame = await socket.receive()
    assert frame["type"] == "error" and frame["code"] == "invalid_message"
    assert await still_open(socket)


async def test_frame_over_the_size_limit_closes_with_1009(socket, settings):
    settings.WS_MAX_MESSAGE_BYTES = 1024
    await socket.send({"type": "ping", "padding": "x" * 1024})
    assert await socket.closed_with() == close_codes.MESSAGE_TOO_BIG


async def test_multibyte_frame_is_measured_in_bytes_not_characters(socket, settings):
    settings.WS_MAX_MESSAGE_BYTES = 1024
    # 300 four-byte characters: 300 characters, 1200 bytes.
    await socket.send_text(json.dumps({"type": "ping", "padding": "😀" * 300}, ensure_ascii=False))
    assert await socket.closed_with() == close_codes.MESSAGE_TOO_BIG


async def test_frame_just_under_the_limit_is_served(socket, settings):
    settings.WS_MAX_MESSAGE_BYTES = 1024
    text = json.dumps({"type": "ping", "padding": ""})
    await socket.send_text(json.dumps({"type": "ping", "padding": "x" * (1024 - len(text))}))
    assert await socket.receive() == {"type": "pong"}
