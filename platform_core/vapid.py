"""VAPID keys (RFC 8292): the P-256 pair that signs every Web Push.

Keys travel as base64url without padding, as browsers and the push
services write them: the private key as its 32-byte scalar, the public key
(the "application server key" a browser subscribes with) as the 65-byte
uncompressed point. Settings read them (config/settings.py), `manage.py
vapid_keys` makes a pair, alerts/push.py signs with them.

No Django here: settings import this before Django is set up.
"""

import base64
import binascii
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
# RFC 8292 §2.1: a contact the push service can reach: mailto: or https:.
SUBJECT = re.compile(r"(mailto:[^@\s]+@[^@\s]+|https://[^\s/]+(/\S*)?)")


def b64url_decode(text: str) -> bytes:
    """Base64url, with or without padding; ValueError for anything else
    (a standard-alphabet "+" or "/", whitespace, non-ASCII digits)."""
    if not isinstance(text, str) or not BASE64URL.fullmatch(text):
        raise ValueError("not base64url")
    stripped = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def private_key(private: str) -> ec.EllipticCurvePrivateKey:
    """The key of a base64url 32-byte scalar; ValueError if it is not one."""
    raw = b64url_decode(private)
    if len(raw) != 32:
        raise ValueError("a VAPID private key is 32 bytes (base64url)")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def public_key_of(private: str) -> str:
    return b64url_encode(public_point(private_key(private).public_key()))


def generate() -> tuple[str, str]:
    """A new (private, public) pair, base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = b64url_encode(key.private_numbers().private_value.to_bytes(32, "big"))
    return private, b64url_encode(public_point(key.public_key()))


def checked(private: str, public: str, subject: str) -> tuple[str, str, str]:
    """The configured (private, public, subject), checked: ("", "", "")
    when no private key is set (push is off); the public key derived from
    the private one when unset. ValueError names what is wrong."""
    if not private:
        if public:
            raise ValueError("VAPID_PUBLIC_KEY is set but VAPID_PRIVATE_KEY is not")
        return "", "", ""
    derived = public_key_of(private)
    if public and public.rstrip("=") != derived:
        raise ValueError("VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY")
    if not SUBJECT.fullmatch(subject):
        raise ValueError("VAPID_SUBJECT must be a mailto: address or an https: URL (RFC 8292)")
    return private, derived, subject


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines (what `vapid_keys --write` writes); {} if absent."""
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def env_lines(private: str, public: str, subject: str) -> str:
    return f"VAPID_PRIVATE_KEY={private}\nVAPID_PUBLIC_KEY={public}\nVAPID_SUBJECT={subject}\n"
