"""The e-mail channel: SMTP (plain, STARTTLS or implicit TLS), a text and an HTML part."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from infopole.settings import NotifySettings
from worker.notify.errors import DeliveryError, PermanentDeliveryError
from worker.notify.tls import smtp_tls_context


def build_email(
    sender: str, to: str, subject: str, text: str, html: str | None, message_id: str
) -> EmailMessage:
    """Return the message: UTF-8 text, an HTML alternative when given, a stable Message-ID."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=message_id, domain="infopole")
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def send_email(
    settings: NotifySettings,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    *,
    message_id: str = "",
) -> None:
    """Send one e-mail through the configured SMTP server.

    Raises DeliveryError when the server is unreachable or answers 4xx (try again later), and
    PermanentDeliveryError when it is not configured or refuses the message or address for good (5xx).
    """
    if not settings.smtp_host:
        raise PermanentDeliveryError("почта не настроена: задайте NOTIFY__SMTP_HOST")
    message = build_email(settings.mail_from, to, subject, text, html, message_id or "alert")
    try:
        smtp: smtplib.SMTP
        if settings.smtp_ssl:
            smtp = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=settings.timeout_s,
                context=smtp_tls_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_s)
        with smtp:
            if settings.smtp_starttls and not settings.smtp_ssl:
                smtp.starttls(context=smtp_tls_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if all(code >= 500 for code in codes):
            raise PermanentDeliveryError(f"почтовый сервер отклонил адрес {to}: {codes}") from exc
        raise DeliveryError(f"почтовый сервер временно не принял адрес {to}: {codes}") from exc
    except smtplib.SMTPResponseException as exc:
        text_error = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        if exc.smtp_code >= 500:
            raise PermanentDeliveryError(
                f"почтовый сервер отклонил письмо: {exc.smtp_code} {text_error}"
            ) from exc
        raise DeliveryError(
            f"почтовый сервер временно не принял письмо: {exc.smtp_code} {text_error}"
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"почтовый сервер недоступен: {exc.__class__.__name__}: {exc}") from exc
