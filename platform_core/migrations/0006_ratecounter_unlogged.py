from django.db import migrations


class Migration(migrations.Migration):
    """Rate counters are disposable (a window's count): no WAL for them, so
    counting a request costs no extra flush to disk. A crash empties them,
    which only resets the windows."""

    dependencies = [
        ("platform_core", "0005_ratecounter"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE platform_core_ratecounter SET UNLOGGED",
            reverse_sql="ALTER TABLE platform_core_ratecounter SET LOGGED",
        ),
    ]
