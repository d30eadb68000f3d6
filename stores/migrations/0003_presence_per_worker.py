"""Presence rows per (worker, store, user) instead of per socket.

Presence is ephemeral (sockets reconnect and write it again), so the old
per-socket rows are dropped rather than converted.
"""

from django.db import migrations, models


def drop_socket_rows(apps, schema_editor):
    apps.get_model("stores", "PresenceSession").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("stores", "0002_presencesession_presence_store_user_idx"),
    ]

    operations = [
        migrations.RunPython(drop_socket_rows, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="presencesession", name="presence_store_user_idx"),
        migrations.RemoveField(model_name="presencesession", name="channel_name"),
        migrations.AddField(
            model_name="presencesession",
            name="worker",
            field=models.CharField(default="", max_length=100),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="presencesession",
            constraint=models.UniqueConstraint(fields=("worker", "store", "user"), name="one_presence_per_worker"),
        ),
    ]
