"""Notifications gain kind parameters, an order id, seen and archived
states; preferences become per kind and per channel; tenants can mark
kinds critical; the counters count unseen as well as unread.

The trigger function of migration 0004 is replaced: a row counts as
unread while `read_at` and `archived_at` are null, and as unseen while
`seen_at` and `archived_at` are null. Rows read before seen existed are
marked seen when they were read (reading implies seeing), so each
counter's unseen starts equal to its unread.
"""

import importlib

from django.conf import settings
from django.db import migrations, models

COUNT = """
CREATE OR REPLACE FUNCTION alerts_count_unread() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    change record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO alerts_unreadcounter AS c (user_id, kind, unread, unseen)
        SELECT recipient_id, kind,
               count(*) FILTER (WHERE read_at IS NULL AND archived_at IS NULL),
               count(*) FILTER (WHERE seen_at IS NULL AND archived_at IS NULL)
        FROM new_rows WHERE archived_at IS NULL AND (read_at IS NULL OR seen_at IS NULL)
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (user_id, kind) DO UPDATE
        SET unread = c.unread + excluded.unread, unseen = c.unseen + excluded.unseen;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM 1 FROM alerts_unreadcounter c
        WHERE (c.user_id, c.kind) IN (
            SELECT recipient_id, kind FROM old_rows
            WHERE archived_at IS NULL AND (read_at IS NULL OR seen_at IS NULL))
        ORDER BY c.user_id, c.kind FOR UPDATE;
        UPDATE alerts_unreadcounter c SET unread = c.unread - d.u, unseen = c.unseen - d.s
        FROM (SELECT recipient_id, kind,
                     count(*) FILTER (WHERE read_at IS NULL) AS u,
                     count(*) FILTER (WHERE seen_at IS NULL) AS s
              FROM old_rows WHERE archived_at IS NULL AND (read_at IS NULL OR seen_at IS NULL)
              GROUP BY 1, 2) d
        WHERE c.user_id = d.recipient_id AND c.kind = d.kind;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Marking seen, read or archived is the usual change (a few kinds
        -- of one user, or one kind of many); the reverse, or moving a row
        -- to another user or kind, is counted as well. In (user, kind) order.
        FOR change IN
            SELECT recipient_id, kind, sum(u) AS u, sum(s) AS s FROM (
                SELECT recipient_id, kind,
                       (read_at IS NULL AND archived_at IS NULL)::int AS u,
                       (seen_at IS NULL AND archived_at IS NULL)::int AS s
                FROM new_rows
                UNION ALL
                SELECT recipient_id, kind,
                       -(read_at IS NULL AND archived_at IS NULL)::int,
                       -(seen_at IS NULL AND archived_at IS NULL)::int
                FROM old_rows
            ) AS changes GROUP BY 1, 2 HAVING sum(u) <> 0 OR sum(s) <> 0 ORDER BY 1, 2
        LOOP
            IF change.u > 0 OR change.s > 0 THEN
                INSERT INTO alerts_unreadcounter AS c (user_id, kind, unread, unseen)
                VALUES (change.recipient_id, change.kind, change.u, change.s)
                ON CONFLICT (user_id, kind) DO UPDATE
                SET unread = c.unread + excluded.unread, unseen = c.unseen + excluded.unseen;
            ELSE
                UPDATE alerts_unreadcounter SET unread = unread + change.u, unseen = unseen + change.s
                WHERE user_id = change.recipient_id AND kind = change.kind;
            END IF;
        END LOOP;
    ELSE  -- TRUNCATE
        DELETE FROM alerts_unreadcounter;
    END IF;
    RETURN NULL;
END
$$;
UPDATE alerts_notification SET seen_at = read_at WHERE read_at IS NOT NULL;
-- Every row not read is unseen and none is archived yet: unseen = unread.
UPDATE alerts_unreadcounter SET unseen = unread;
"""


def previous_function() -> str:
    counter = importlib.import_module("alerts.migrations.0004_unread_counter").COUNT_UNREAD
    return counter.split("CREATE TRIGGER")[0].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")


def muted_to_channels(apps, schema_editor):
    Preference = apps.get_model("alerts", "NotificationPreference")
    for preference in Preference.objects.all():
        preference.channels = {kind: {"in_app": False} for kind in preference.muted_kinds}
        preference.save(update_fields=["channels"])


def channels_to_muted(apps, schema_editor):
    Preference = apps.get_model("alerts", "NotificationPreference")
    for preference in Preference.objects.all():
        preference.muted_kinds = sorted(k for k, c in preference.channels.items() if c.get("in_app") is False)
        preference.save(update_fields=["muted_kinds"])


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0005_notification_kind_board_unattended"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="NotificationKindPolicy",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(max_length=32, unique=True)),
                ("critical", models.BooleanField(default=False)),
            ],
        ),
        migrations.AddField(
            model_name="notificationpreference",
            name="channels",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(muted_to_channels, channels_to_muted),
        migrations.RemoveField(model_name="notificationpreference", name="muted_kinds"),
        migrations.AddField(
            model_name="notification", name="archived_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(model_name="notification", name="order_id", field=models.BigIntegerField(blank=True, null=True)),
        migrations.AddField(model_name="notification", name="params", field=models.JSONField(blank=True, null=True)),
        migrations.AddField(model_name="notification", name="seen_at", field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="unreadcounter", name="unseen", field=models.IntegerField(default=0)),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("archived_at__isnull", False)),
                fields=["recipient", "-id"],
                name="notification_archived_idx",
            ),
        ),
        migrations.RunSQL(COUNT, previous_function()),
    ]
