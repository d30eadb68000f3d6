"""Unread counters, kept by statement-level triggers on the notification
table, and initialised from the rows already there.

Each trigger sees the statement's rows at once (transition tables), so a
1,000-row INSERT is one upsert of the counters it touches, not 1,000.
Counter rows are locked in (user, kind) order by every statement, so two
transactions touching the same users cannot deadlock on them. Decrements
only UPDATE existing rows: when Django deletes a user it may delete the
counters before the notifications, and a decrement must not create a
counter row for a user about to disappear.

The function is created in the tenant's schema with that schema's
search_path (`SET search_path FROM CURRENT`): a write to one tenant's
table updates that tenant's counters, whatever the session's path.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


COUNT_UNREAD = """
CREATE FUNCTION alerts_count_unread() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    change record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO alerts_unreadcounter AS c (user_id, kind, unread)
        SELECT recipient_id, kind, count(*) FROM new_rows WHERE read_at IS NULL
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (user_id, kind) DO UPDATE SET unread = c.unread + excluded.unread;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM 1 FROM alerts_unreadcounter c
        WHERE (c.user_id, c.kind) IN (SELECT recipient_id, kind FROM old_rows WHERE read_at IS NULL)
        ORDER BY c.user_id, c.kind FOR UPDATE;
        UPDATE alerts_unreadcounter c SET unread = c.unread - d.n
        FROM (SELECT recipient_id, kind, count(*) AS n FROM old_rows WHERE read_at IS NULL GROUP BY 1, 2) d
        WHERE c.user_id = d.recipient_id AND c.kind = d.kind;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Marking read is the usual change (a few kinds of one user, or
        -- one kind of many); marking unread again, or moving a row to
        -- another user or kind, is counted as well. In (user, kind) order.
        FOR change IN
            SELECT recipient_id, kind, sum(n) AS n FROM (
                SELECT recipient_id, kind, 1 AS n FROM new_rows WHERE read_at IS NULL
                UNION ALL
                SELECT recipient_id, kind, -1 AS n FROM old_rows WHERE read_at IS NULL
            ) AS changes GROUP BY 1, 2 HAVING sum(n) <> 0 ORDER BY 1, 2
        LOOP
            IF change.n > 0 THEN
                INSERT INTO alerts_unreadcounter AS c (user_id, kind, unread)
                VALUES (change.recipient_id, change.kind, change.n)
                ON CONFLICT (user_id, kind) DO UPDATE SET unread = c.unread + excluded.unread;
            ELSE
                UPDATE alerts_unreadcounter SET unread = unread + change.n
                WHERE user_id = change.recipient_id AND kind = change.kind;
            END IF;
        END LOOP;
    ELSE  -- TRUNCATE
        DELETE FROM alerts_unreadcounter;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER alerts_count_unread_insert AFTER INSERT ON alerts_notification
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION alerts_count_unread();
CREATE TRIGGER alerts_count_unread_update AFTER UPDATE ON alerts_notification
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION alerts_count_unread();
CREATE TRIGGER alerts_count_unread_delete AFTER DELETE ON alerts_notification
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION alerts_count_unread();
CREATE TRIGGER alerts_count_unread_truncate AFTER TRUNCATE ON alerts_notification
    FOR EACH STATEMENT EXECUTE FUNCTION alerts_count_unread();
-- CREATE TRIGGER holds off every writer of the table until this migration
-- commits, so the rows counted here are all the rows there are.
INSERT INTO alerts_unreadcounter (user_id, kind, unread)
SELECT recipient_id, kind, count(*) FROM alerts_notification WHERE read_at IS NULL GROUP BY 1, 2;
"""

DROP_COUNT_UNREAD = """
DROP TRIGGER alerts_count_unread_insert ON alerts_notification;
DROP TRIGGER alerts_count_unread_update ON alerts_notification;
DROP TRIGGER alerts_count_unread_delete ON alerts_notification;
DROP TRIGGER alerts_count_unread_truncate ON alerts_notification;
DROP FUNCTION alerts_count_unread();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_announcement_notification_announcement_and_more"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="UnreadCounter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(max_length=32)),
                ("unread", models.IntegerField(default=0)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("user", "kind"), name="one_counter_per_user_and_kind")],
            },
        ),
        migrations.RunSQL(COUNT_UNREAD, DROP_COUNT_UNREAD),
    ]
