"""The real application with two bugs planted, for tests of error reporting.

Served by uvicorn in a test (`uvicorn_server(app="tests.fault_injection:application")`):
listing or opening orders raises in the view, and a dashboard socket's
`resume` raises in the consumer. Everything else is the product as shipped.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from config.asgi import application  # noqa: E402,F401  (sets Django up)
from orders import selectors  # noqa: E402
from orders.consumers import StoreOrdersSocket  # noqa: E402


def _broken_selector(**kwargs):
    raise RuntimeError("planted fault in a view")


async def _broken_resume(self, message):
    raise RuntimeError("planted fault in a consumer")


selectors.orders_visible_to = _broken_selector
StoreOrdersSocket.on_resume = _broken_resume
