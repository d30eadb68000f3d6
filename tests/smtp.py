"""A real SMTP server for tests (aiosmtpd), and Django pointed at it.

The server runs in its own thread on a free port, requires the credentials
of the EMAIL_URL the test gives Django (so a mail that arrives proves they
were used), and keeps what it received.
"""

import contextlib
import dataclasses
import email
import email.policy
import re
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from environ import Env

from tests.servers import free_port

USER, PASSWORD = "pregon", "smtp-secret"


@dataclasses.dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def body(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()

    @property
    def html(self) -> str:
        return self.message.get_body(preferencelist=("html",)).get_content()

    def links(self) -> list[str]:
        return re.findall(r"https?://\S+", self.body)


class Inbox:
    """What the server accepted, in order."""

    def __init__(self):
        self.received: list[Received] = []
        self.email_url = ""

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok)


@contextlib.contextmanager
def smtp_server(*, port: int | None = None, inbox: Inbox | None = None):
    """Yield an Inbox whose `email_url` reaches the running server. `port`:
    a server started again where a stopped one was; `inbox`: one that
    handles the conversation its own way (an Inbox subclass)."""
    inbox = inbox or Inbox()
    port = port or free_port()
    # AUTH over plain text is fine on 127.0.0.1; mail without it is refused.
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    inbox.email_url = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{port}"
    try:
        yield inbox
    finally:
        controller.stop()


def point_django_at(settings, email_url: str) -> None:
    """Configure mail from `email_url` as config/settings.py does from EMAIL_URL."""
    for key, value in Env.email_url_config(email_url).items():
        if key.startswith("EMAIL_"):
            setattr(settings, key, value)
