"""A staff member who leaves a store stops seeing its board at once: the
membership's removal (or its move to another person or store) tells every
worker to check that user's sockets (ws/access.py); the store's dashboard
sockets close with 4403."""

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from stores.models import StaffMembership
from ws.access import access_changed


@receiver(post_delete, sender=StaffMembership, dispatch_uid="stores.membership_removed")
def _membership_removed(sender, instance, **kwargs):
    access_changed(user_id=instance.user_id)


@receiver(pre_save, sender=StaffMembership, dispatch_uid="stores.membership_before")
def _remember_holder(sender, instance, **kwargs):
    if instance.pk is not None:
        instance._held_by = StaffMembership.objects.filter(pk=instance.pk).values_list("user_id", flat=True).first()


@receiver(post_save, sender=StaffMembership, dispatch_uid="stores.membership_saved")
def _membership_saved(sender, instance, created, **kwargs):
    if created:
        return
    # Given to someone else, the old holder lost it; moved to another
    # store, the holder lost the old one.
    for user_id in {getattr(instance, "_held_by", None), instance.user_id} - {None}:
        access_changed(user_id=user_id)
