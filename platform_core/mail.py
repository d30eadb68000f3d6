"""One way to send a mail made from two templates (a subject, a text body),
in the recipient's language."""

import logging

from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

logger = logging.getLogger(__name__)


def send_rendered(
    *, subject_template: str, body_template: str, context: dict, to: str, language: str, failure: str
) -> bool:
    """Send it; on failure log `failure` and return False. Callers send
    links that the person asking also has (a first admin's, an invitation):
    a lost mail is worth a log line, not a failed request.

    `language`: the recipient's (platform_core.i18n.language_for with their
    user and tenant), not whoever's request happens to send it."""
    with translation.override(language):
        subject = "".join(render_to_string(subject_template, context).splitlines())
        body = render_to_string(body_template, context)
    try:
        send_mail(subject, body, None, [to])
    except Exception:
        logger.exception(failure)
        return False
    return True
