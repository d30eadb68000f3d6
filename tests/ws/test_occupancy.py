"""ws/occupancy.py reads channels-redis internals: it is tested against every
layer the product supports, and against the exact release it was written for."""

import asyncio
import os
import threading
from importlib.metadata import version

import pytest
from channels.layers import get_channel_layer

from ws.occupancy import WRITTEN_FOR_CHANNELS_REDIS, groups_with_members

LAYERS = {
    "in-memory": {"BACKEND": "channels.layers.InMemoryChannelLayer"},
    "redis pub/sub": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [os.environ.get("REDIS_URL", "")], "prefix": "pregon-occupancy-test"},
    },
}


def test_the_installed_channels_redis_is_the_one_the_internals_were_read_from():
    assert version("channels-redis") == WRITTEN_FOR_CHANNELS_REDIS, (
        "ws/occupancy.py reads channels-redis internals: re-read them for this release, then update the pin"
    )


class Holder:
    """A worker's sockets, simulated: channels in groups, on a loop of their own."""

    def __init__(self, groups: list[str]):
        self.groups, self.ready, self.done = groups, threading.Event(), threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._hold()), daemon=True)

    async def _hold(self):
        layer = get_channel_layer()
        channel = await layer.new_channel("test.")
        for name in self.groups:
            await layer.group_add(name, channel)
        self.ready.set()
        while not self.done.is_set():
            await asyncio.sleep(0.02)
        for name in self.groups:
            await layer.group_discard(name, channel)

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join(10)


@pytest.mark.parametrize("name", list(LAYERS))
def test_groups_with_a_member_are_found_and_the_others_are_not(settings, name):
    if name == "redis pub/sub" and not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL")
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": LAYERS[name]}
    channel_layers.backends.clear()  # build the layer from these settings
    try:
        occupied = [f"t1.notificaciones_{i}" for i in range(0, 6000, 2)]  # more than one NUMSUB chunk
        empty = [f"t1.notificaciones_{i}" for i in range(1, 6000, 2)] + ["t2.notificaciones_0"]
        with Holder(occupied):
            assert groups_with_members(occupied + empty) == set(occupied)
        assert groups_with_members(occupied) == set()  # left: nobody is there any more
    finally:
        channel_layers.backends.clear()
