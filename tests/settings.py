"""Settings for the test suite: the real ones, with local defaults and
a cheap password hasher. Server processes that tests start themselves
use this module too, pointed at the test database."""

import os

os.environ.setdefault("DEBUG", "true")

from config.settings import *  # noqa: E402,F403
from config.settings import CHANNEL_LAYERS, DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A server subprocess started by a test must see the test database, whose
# name pytest-django only sets inside the test process.
if "PREGON_TEST_DATABASE_NAME" in os.environ:
    DATABASES["default"]["NAME"] = os.environ["PREGON_TEST_DATABASE_NAME"]

# Never share Redis keys (or pub/sub channels, which ignore the database
# number) with a `make run`, or with another test run, on the same machine.
if "prefix" in CHANNEL_LAYERS["default"].get("CONFIG", {}):
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = os.environ.get("PREGON_TEST_LAYER_PREFIX", "pregon-test")

# A test about the cost of signing in (tests/faults/test_sign_in_burst.py)
# runs its server with the hasher deployments use; the cast's MD5 hashes
# still verify.
if os.environ.get("PREGON_TEST_REAL_HASHER"):
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
