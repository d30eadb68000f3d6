"""VAPID keys: how settings read them (strict when set, push off when not),
and `manage.py vapid_keys`, which `make run` uses to make local ones once."""

import os
import stat
import subprocess
import sys

import pytest
from django.core.management import call_command

from platform_core import vapid
from tests.servers import ROOT


def test_no_keys_is_push_off_and_the_public_key_is_derived_from_the_private_one():
    assert vapid.checked("", "", "") == ("", "", "")
    private, public = vapid.generate()
    assert vapid.checked(private, "", "mailto:ops@example.com") == (private, public, "mailto:ops@example.com")
    assert vapid.checked(private, public + "=", "https://example.com/contact")[1] == public


@pytest.mark.parametrize(
    ("private", "public", "subject", "wrong"),
    [
        ("", "BAAA", "mailto:a@b.c", "VAPID_PRIVATE_KEY is not"),
        ("not base64url!", "", "mailto:a@b.c", "base64url"),
        (vapid.b64url_encode(b"x" * 31), "", "mailto:a@b.c", "32 bytes"),
        ("٣" * 43, "", "mailto:a@b.c", "base64url"),
        (vapid.generate()[0], vapid.generate()[1], "mailto:a@b.c", "not the public key"),
        (vapid.generate()[0], "", "", "VAPID_SUBJECT"),
        (vapid.generate()[0], "", "ops@example.com", "VAPID_SUBJECT"),
        (vapid.generate()[0], "", "http://example.com", "VAPID_SUBJECT"),
    ],
    # Named, not shown: generated keys differ at each collection.
    ids=[
        "no private key",
        "not base64url",
        "31 bytes",
        "Arabic-Indic digits",
        "another pair's public key",
        "no subject",
        "subject without mailto",
        "subject over http",
    ],
)
def test_wrong_keys_are_refused_naming_what_is_wrong(private, public, subject, wrong):
    with pytest.raises(ValueError, match=wrong):
        vapid.checked(private, public, subject)


def _settings_in_a_process(env: dict) -> subprocess.CompletedProcess:
    code = "from django.conf import settings; print(settings.VAPID_PUBLIC_KEY or '-', settings.VAPID_SUBJECT or '-')"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VAPID_")}
    # Settings only read these (nothing connects): so that no embedded
    # PostgreSQL starts, and DEBUG off finds what it requires.
    clean.update(DATABASE_URL="postgres://pregon@127.0.0.1:1/unused", REDIS_URL="redis://127.0.0.1:1/0")
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "example.com"}


def test_deployed_without_keys_push_is_off_and_nothing_stops(tmp_path):
    (tmp_path / "vapid.env").write_text(vapid.env_lines(*vapid.generate(), "mailto:a@b.c"))
    done = _settings_in_a_process({**PRODUCTION, "VAR_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["-", "-"], "a deployment never reads the local file"


def test_deployed_with_a_wrong_key_does_not_start():
    done = _settings_in_a_process({**PRODUCTION, "VAPID_PRIVATE_KEY": "garbage!", "VAPID_SUBJECT": "mailto:a@b.c"})
    assert done.returncode != 0 and "ImproperlyConfigured: not base64url" in done.stderr


def test_a_local_run_reads_the_file_make_run_wrote_unless_the_environment_sets_keys(tmp_path):
    call_command("vapid_keys", write=str(tmp_path / "vapid.env"))
    written = vapid.read_env_file(tmp_path / "vapid.env")
    done = _settings_in_a_process({"DEBUG": "true", "VAR_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [written["VAPID_PUBLIC_KEY"], "mailto:admin@localhost"]

    private, public = vapid.generate()
    done = _settings_in_a_process({"DEBUG": "true", "VAR_DIR": str(tmp_path), "VAPID_PRIVATE_KEY": private})
    assert done.stdout.split() == [public, "mailto:admin@localhost"]


def test_the_command_writes_a_pair_once_readable_by_its_owner_only(tmp_path, capsys):
    path = tmp_path / "var" / "vapid.env"
    call_command("vapid_keys", write=str(path))
    first = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    call_command("vapid_keys", write=str(path))
    assert path.read_text() == first, "kept: subscriptions are bound to the public key"
    keys = vapid.read_env_file(path)
    assert vapid.checked(keys["VAPID_PRIVATE_KEY"], keys["VAPID_PUBLIC_KEY"], keys["VAPID_SUBJECT"])

    capsys.readouterr()
    call_command("vapid_keys", subject="https://example.com/ops")
    printed = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert vapid.checked(printed["VAPID_PRIVATE_KEY"], printed["VAPID_PUBLIC_KEY"], printed["VAPID_SUBJECT"])
    assert printed["VAPID_PRIVATE_KEY"] != keys["VAPID_PRIVATE_KEY"]
