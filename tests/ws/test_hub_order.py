"""The worker's hub hands a store's frames to its sockets in seq order.

Two commits published by two threads can reach the worker swapped; handed
on as they came, every socket would see a hole and read it from the
database. The hub is driven here with frames as the layer delivers them
and sockets that record what they are handed.
"""

import asyncio

from ws.hub import Hub

GROUP = "t1.pedidos_1"


class Recorder:
    def __init__(self):
        self.seqs: list = []

    def deliver(self, message: dict) -> None:
        self.seqs.append(message.get("seq", "presence"))


def frame(seq=None, group=GROUP) -> dict:
    message = {"type": "event.forward", "text": f'{{"seq": {seq}}}', "group": group}
    if seq is not None:
        message["seq"] = seq
    return message


def hub_with(*sockets, group=GROUP, in_order=True) -> Hub:
    hub = Hub()
    hub.members[group] = set(sockets)
    if in_order:  # a store stream, joined with in_order=True
        hub.in_order.add(group)
    return hub


async def test_a_bells_frames_are_handed_on_at_once_though_their_ids_skip(settings):
    # A bell's seq is a notification id: the tenant's other users take the
    # ids in between, so nothing is missing and nothing may wait for them.
    settings.STREAM_REORDER_SECONDS = 5
    socket = Recorder()
    hub = hub_with(socket, in_order=False)
    for seq in (7, 19, 18, 40, None):
        hub.receive(frame(seq))
    assert socket.seqs == [7, 19, 18, 40, "presence"]
    assert not hub.held and not hub.release_timers


async def test_a_swapped_pair_is_handed_on_in_order_at_once(settings):
    settings.STREAM_REORDER_SECONDS = 5  # far longer than the test: nothing waits for the timer
    socket = Recorder()
    hub = hub_with(socket)
    for seq in (1, 3, 2, 4):
        hub.receive(frame(seq))
    assert socket.seqs == [1, 2, 3, 4]
    assert not hub.held.get(GROUP) and GROUP not in hub.release_timers


async def test_a_frame_that_never_comes_lets_the_later_ones_go_after_the_wait(settings):
    settings.STREAM_REORDER_SECONDS = 0.05
    socket = Recorder()
    hub = hub_with(socket)
    hub.receive(frame(1))
    hub.receive(frame(4))
    hub.receive(frame(3))
    assert socket.seqs == [1]  # 2 may still come
    await asyncio.sleep(0.15)
    assert socket.seqs == [1, 3, 4]  # it did not: the sockets repair the hole from the database
    hub.receive(frame(5))  # and the stream goes on from there
    hub.receive(frame(2))  # a very late one is still handed on (sockets drop duplicates)
    assert socket.seqs == [1, 3, 4, 5, 2]


async def test_presence_and_other_groups_are_never_held(settings):
    settings.STREAM_REORDER_SECONDS = 5
    socket, other = Recorder(), Recorder()
    hub = hub_with(socket)
    hub.members["t2.pedidos_1"] = {other}  # the same store id in another tenant
    hub.receive(frame(1))
    hub.receive(frame(3))  # held: 2 is missing in this group only
    hub.receive(frame(None))
    hub.receive(frame(7, group="t2.pedidos_1"))
    assert socket.seqs == [1, "presence"] and other.seqs == [7]
    assert hub.last_presence[GROUP] == frame(None)["text"]
    hub.receive(frame(2))
    assert socket.seqs == [1, "presence", 2, 3]


async def test_a_hold_longer_than_an_outbox_hands_everything_on(settings):
    settings.STREAM_REORDER_SECONDS = 5
    settings.WS_OUTBOX_FRAMES = 3
    socket = Recorder()
    hub = hub_with(socket)
    hub.receive(frame(1))
    for seq in range(3, 7):
        hub.receive(frame(seq))
    assert socket.seqs == [1, 3, 4, 5, 6]  # no unbounded memory for a lost frame
    assert GROUP not in hub.release_timers


async def test_the_last_socket_leaving_forgets_the_group(settings):
    settings.STREAM_REORDER_SECONDS = 5
    socket = Recorder()
    hub = hub_with(socket)
    hub.channel = "hub.test"  # already subscribed: leave() only unsubscribes
    hub.receive(frame(1))
    hub.receive(frame(3))
    await hub.leave(GROUP, socket)
    assert GROUP not in hub.next_seq and GROUP not in hub.held and GROUP not in hub.release_timers
    hub.receive(frame(2))  # nobody here any more: dropped
    assert socket.seqs == [1]
