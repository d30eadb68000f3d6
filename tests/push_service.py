"""A local stand-in for a Web Push service (FCM, Mozilla's autopush), and
the browsers that subscribe to it.

A real HTTP server in a thread on a free port. `subscribe()` does what a
browser's `pushManager.subscribe()` does: a P-256 key pair and a 16-byte
auth secret of the browser's own, and an endpoint on this service bound to
the application server key it was given. A push POSTed to an endpoint is
checked as the real services check it, and refused otherwise:

- 401 without a valid VAPID `Authorization: vapid t=<JWT>, k=<key>`
  (RFC 8292): an ES256 JWT signed by `k`, `aud` the endpoint's origin,
  `exp` in the future and at most 24 h away, `sub` a mailto: or https:;
- 403 when `k` is not the key the subscription was made with;
- 400 without `TTL` or with a body not in `aes128gcm`; 413 over 4096 bytes;
- 404 for an endpoint it never issued.

Otherwise the body is decrypted with http_ece, using the browser's private
key and auth secret (RFC 8291), and the push recorded, with what the test
told this endpoint to answer (201 by default; 404, 410, 429, 500…).
"""

import base64
import contextlib
import dataclasses
import itertools
import json
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_PAYLOAD = 4096
MAX_TOKEN_SECONDS = 24 * 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclasses.dataclass
class Browser:
    """One browser profile's subscription, with its secrets."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    application_server_key: str

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def json(self) -> dict:
        """What `PushSubscription.toJSON()` gives the page."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }


@dataclasses.dataclass
class Push:
    """A request the service took apart (decrypted, when it got that far)."""

    endpoint: str
    status: int  # what the service answered
    headers: dict
    claims: dict | None = None
    payload: dict | None = None
    refusal: str = ""  # why it was refused (401, 403, 400, 413)

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300


class PushService:
    def __init__(self):
        self.port = 0
        self.requests: list[Push] = []
        self.browsers: dict[str, Browser] = {}
        self.answers: dict[str, deque[int]] = defaultdict(deque)
        self.delay = 0.0  # seconds before answering (a slow service: races)
        self.lock = threading.Lock()
        self._ids = itertools.count(1)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def allowed_host(self) -> str:
        """This service as a WEB_PUSH_HOSTS entry (plain http, this port only)."""
        return f"http://127.0.0.1:{self.port}"

    def subscribe(self, application_server_key: str, *, answers: tuple[int, ...] = ()) -> Browser:
        browser = Browser(
            endpoint=f"{self.origin}/push/{secrets.token_urlsafe(24)}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=secrets.token_bytes(16),
            application_server_key=application_server_key,
        )
        self.browsers[browser.endpoint] = browser
        self.answer(browser, *answers)
        return browser

    def answer(self, browser: Browser, *statuses: int) -> None:
        """The next pushes to `browser` are answered these, in order; then 201.
        (A 3xx names /push/elsewhere in its Location: an endpoint no browser has.)"""
        self.answers[browser.endpoint].extend(statuses)

    def delivered(self, browser: Browser | None = None) -> list[dict]:
        """The payloads delivered (answered 2xx), to `browser` or to anyone."""
        return [
            push.payload
            for push in self.requests
            if push.delivered and (browser is None or push.endpoint == browser.endpoint)
        ]

    def tried(self, browser: Browser) -> list[Push]:
        return [push for push in self.requests if push.endpoint == browser.endpoint]

    # --- one request ---------------------------------------------------------------------
    def handle(self, path: str, headers: dict, body: bytes) -> tuple[int, str, Push | None]:
        endpoint = f"{self.origin}{path}"
        browser = self.browsers.get(endpoint)
        if browser is None:
            push = Push(endpoint=endpoint, status=404, headers=headers, refusal="no such subscription")
            with self.lock:
                self.requests.append(push)
            return push.status, push.refusal, push
        push = Push(endpoint=endpoint, status=0, headers=headers)
        try:
            push.claims = self._check_vapid(headers.get("authorization", ""), browser)
            self._check_request(headers, body)
            push.payload = json.loads(self._decrypt(body, browser))
        except Refused as refused:
            push.status, push.refusal = refused.status, refused.reason
        else:
            with self.lock:
                queued = self.answers[endpoint]
                push.status = queued.popleft() if queued else 201
        with self.lock:
            self.requests.append(push)
        return push.status, push.refusal, push

    def _check_vapid(self, authorization: str, browser: Browser) -> dict:
        match = re.fullmatch(r"vapid\s+(.*)", authorization.strip(), flags=re.IGNORECASE)
        if not match:
            raise Refused(401, "no VAPID authorization")
        parts = dict(part.strip().split("=", 1) for part in match.group(1).split(",") if "=" in part)
        if "t" not in parts or "k" not in parts:
            raise Refused(401, "VAPID needs t= and k=")
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
            header_b64, claims_b64, signature_b64 = parts["t"].split(".")
            header = json.loads(unb64url(header_b64))
            claims = json.loads(unb64url(claims_b64))
            signature = unb64url(signature_b64)
        except ValueError:
            raise Refused(401, "malformed VAPID token or key") from None
        if header.get("alg") != "ES256" or len(signature) != 64:
            raise Refused(401, "not an ES256 JWT")
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise Refused(401, "the JWT's signature is not by k") from None
        if claims.get("aud") != self.origin:
            raise Refused(401, f"aud {claims.get('aud')!r} is not {self.origin}")
        exp = claims.get("exp")
        if not isinstance(exp, int) or not time.time() < exp <= time.time() + MAX_TOKEN_SECONDS:
            raise Refused(401, f"exp {exp!r} is not within the next 24 hours")
        if not re.match(r"(mailto:.+@.+|https://.+)", str(claims.get("sub", ""))):
            raise Refused(401, "sub is not a mailto: or https: contact")
        if parts["k"].rstrip("=") != browser.application_server_key.rstrip("="):
            raise Refused(403, "k is not the key this subscription was made with")
        return claims

    @staticmethod
    def _decrypt(body: bytes, browser: Browser) -> bytes:
        try:
            return http_ece.decrypt(
                body, private_key=browser.private_key, auth_secret=browser.auth, version="aes128gcm"
            )
        except Exception as error:  # a wrong key, a tampered body: the tag does not match
            raise Refused(400, f"cannot decrypt: {type(error).__name__}") from None

    def _check_request(self, headers: dict, body: bytes) -> None:
        if not headers.get("ttl", "").isdigit():
            raise Refused(400, "no TTL")
        if headers.get("content-encoding") != "aes128gcm":
            raise Refused(400, "the body is not aes128gcm")
        if len(body) > MAX_PAYLOAD:
            raise Refused(413, f"{len(body)} bytes is over {MAX_PAYLOAD}")
        urgency = headers.get("urgency")
        if urgency is not None and urgency not in ("very-low", "low", "normal", "high"):
            raise Refused(400, f"urgency {urgency!r}")


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def _handler_for(service: PushService):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real services

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, reason, push = service.handle(self.path, headers, body)
            if service.delay:
                time.sleep(service.delay)
            answer = json.dumps({"reason": reason} if reason else {}).encode()
            self.send_response(status)
            if 200 <= status < 300:
                self.send_header("Location", f"{service.origin}/message/{next(service._ids)}")
            elif 300 <= status < 400:  # a redirect a sender must not follow: to an endpoint it never checked
                self.send_header("Location", f"{service.origin}/push/elsewhere")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format, *args):  # quiet: tests read `service.requests`
            pass

    return Handler


@contextlib.contextmanager
def push_service():
    """Yield a running PushService; stop it after."""
    service = PushService()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(service))
    server.daemon_threads = True
    service.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="push-service", daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
