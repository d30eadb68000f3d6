"""Store streams: a durable, gap-free, per-store sequence of events.

Each event is written in the same transaction as the change it describes
and published to the store's group after that transaction commits. A
socket that missed anything (it was offline, Redis dropped a message,
Redis was down) gets it back from `StoreEvent` by `seq`.
"""

from django.db import connection

from orders.models import StoreEvent
from stores.models import Store
from ws import events
from ws.layer import publish_to_store


def stream_append(
    *, store_id: int, frame_type: type[events.StoreStreamFrame], data: events.OrderEventData
) -> StoreEvent:
    """Append an event to the store's stream and publish it after commit.

    Precondition: inside the transaction that made the change (so the event
    commits or rolls back with it; Order.save and OrderComment.save open
    one), in the tenant's schema.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("store stream events must be written inside the transaction of the change")
    seq = _next_seq(store_id)
    frame = frame_type(seq=seq, store_id=store_id, data=data)
    text = publish_to_store(store_id, frame, seq=seq)
    return StoreEvent.objects.create(store_id=store_id, seq=seq, type=frame.type, frame=text)


def _next_seq(store_id: int) -> int:
    # The row lock taken by this UPDATE is held until commit: a concurrent
    # writer on the same store waits here, so seqs commit in order, and a
    # rollback returns the number with everything else (no gaps).
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Store._meta.db_table} SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq",
            [store_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise Store.DoesNotExist(f"no store {store_id}")
    return row[0]


