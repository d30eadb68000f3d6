"""`seq` stays gap-free and unique with concurrent writers on one store."""

import threading

import pytest
from django.db import connections, transaction
from django_tenants.utils import tenant_context

from orders.models import StoreEvent
from tests.factories import change_status, create_order

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 6
ORDERS_EACH = 8


def test_concurrent_writers_get_a_gap_free_sequence_even_with_rollbacks(world):
    acme = world.acme.tenant
    start = threading.Barrier(WRITERS)
    failures = []

    def writer(n):
        try:
            start.wait()
            for i in range(ORDERS_EACH):
                if i % 4 == 3:
                    # A transaction that takes a seq and then fails.
                    try:
                        with transaction.atomic():
                            create_order(acme, external_id=f"w{n}-{i}-lost")
                            raise RuntimeError
                    except RuntimeError:
                        pass
                else:
                    order = create_order(acme, external_id=f"w{n}-{i}")
                    change_status(acme, order, "accepted")
        except Exception as error:  # surfaced below; a thread cannot fail the test itself
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    kept = WRITERS * (ORDERS_EACH - ORDERS_EACH // 4) * 2  # created + accepted
    with tenant_context(acme):
        seqs = list(StoreEvent.objects.filter(store_id=1).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, kept + 1))
        assert world.acme.store1.__class__.objects.get(pk=1).last_seq == kept
