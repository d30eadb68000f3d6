"""The stream protocol of a dashboard socket, without a socket: table-driven
cases for the seam, duplicates, holes and resets (orders.stream.StreamCursor)."""

import pytest

from orders.stream import Start, StreamCursor, Verdict

SEND, DROP, FILL = Verdict.SEND, Verdict.DROP, Verdict.FILL


@pytest.mark.parametrize(
    "after, latest, start, position",
    [
        (None, 0, Start.LIVE, 0),  # a new store, nothing asked
        (None, 7, Start.LIVE, 7),  # live from the latest
        (0, 7, Start.REPLAY, 0),  # everything from the start
        (5, 7, Start.REPLAY, 5),  # what was missed after 5
        (7, 7, Start.REPLAY, 7),  # nothing missed: replay nothing, then live
        (8, 7, Start.RESET, 7),  # beyond the end: not a position of this stream
        (10**12, 0, Start.RESET, 0),
    ],
)
def test_where_a_socket_starts(after, latest, start, position):
    cursor = StreamCursor()
    assert cursor.start(after=after, latest=latest) is start
    assert cursor.last_seq == position


# Each case: the position after start, then (live seq offered, verdict) in order;
# a SEND is sent (the cursor advances), a FILL is filled from the database up
# to and including that seq (the cursor advances to it), a DROP changes nothing.
CASES = {
    "in order": (0, [(1, SEND), (2, SEND), (3, SEND)], 3),
    "the seam: replayed up to 5, live frames 4 and 5 came during the replay": (5, [(4, DROP), (5, DROP), (6, SEND)], 6),
    "a duplicate after a live frame": (2, [(3, SEND), (3, DROP), (4, SEND)], 4),
    "a hole of one": (2, [(4, FILL), (5, SEND)], 5),
    "a hole of many, then the lost frames arrive late": (0, [(9, FILL), (3, DROP), (9, DROP), (10, SEND)], 10),
    "an old frame long after": (100, [(1, DROP), (101, SEND)], 101),
}


@pytest.mark.parametrize("name", list(CASES))
def test_live_frames_are_sent_dropped_or_filled(name):
    position, offers, final = CASES[name]
    cursor = StreamCursor()
    cursor.start(after=position, latest=max(position, 1000))
    for seq, verdict in offers:
        assert cursor.offer(seq) is verdict, (name, seq)
        if verdict is not DROP:
            cursor.sent(seq)
    assert cursor.last_seq == final


def test_a_reset_keeps_the_position_when_a_resume_asks_beyond_the_end():
    cursor = StreamCursor()
    cursor.start(after=None, latest=12)
    assert cursor.start(after=40, latest=12) is Start.RESET
    assert cursor.last_seq == 12 and cursor.offer(13) is SEND


def test_a_resume_may_go_back_and_send_again():
    cursor = StreamCursor()
    cursor.start(after=None, latest=12)
    assert cursor.start(after=3, latest=12) is Start.REPLAY
    assert cursor.offer(4) is SEND


def test_sending_a_seq_twice_is_a_bug_not_a_silent_duplicate():
    cursor = StreamCursor()
    cursor.start(after=0, latest=5)
    cursor.sent(1)
    with pytest.raises(ValueError):
        cursor.sent(1)


def test_parked_frames_come_back_in_arrival_order():
    cursor = StreamCursor()
    for seq in (3, 1, 2):
        cursor.park({"seq": seq})
    assert [cursor.unpark()["seq"] for _ in range(3)] == [3, 1, 2]
    assert cursor.unpark() is None
