"""A staff member who leaves a store stops seeing its board at once: the
membership's removal tells every worker to check that user's sockets
(ws/access.py); the store's dashboard sockets close with 4403."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from stores.models import StaffMembership
from ws.access import access_changed


@receiver(post_delete, sender=StaffMembership, dispatch_uid="stores.membership_removed")
def _membership_removed(sender, instance, **kwargs):
    access_changed(user_id=instance.user_id)


@receiver(post_save, sender=StaffMembership, dispatch_uid="stores.membership_saved")
def _membership_saved(sender, instance, created, **kwargs):
    if not created:  # moved to another store: the old one is lost
        access_changed(user_id=instance.user_id)
