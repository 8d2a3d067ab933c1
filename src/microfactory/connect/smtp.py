"""E-mail over SMTP (stdlib `smtplib`): the `MailSender` of notifications. One connection per
message (notices are few), STARTTLS when configured, login when a user is set. The password
is never stored: it is read from the environment variable named in the settings when a
message is sent. Every failure — connection refused, timeout, a refused recipient — becomes a
`ConnectorError` naming the server, so the outbox keeps the message and retries it."""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from microfactory.core.errors import ConnectorError


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    sender: str = "microfactory@localhost"
    starttls: bool = False
    username: str = ""
    password_env: str = "MICROFACTORY_SMTP_PASSWORD"
    timeout_s: float = 10.0


class SmtpSender:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def message(self, recipient: str, subject: str, body: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.config.sender
        msg["To"] = recipient
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.config.sender.rpartition("@")[2] or None)
        msg.set_content(body)
        return msg

    def send(self, recipient: str, subject: str, body: str) -> None:
        c = self.config
        where = f"SMTP server {c.host}:{c.port}"
        try:
            with smtplib.SMTP(c.host, c.port, timeout=c.timeout_s) as smtp:
                if c.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if c.username:
                    password = os.environ.get(c.password_env)
                    if password is None:
                        raise ConnectorError(
                            f"{where}: user {c.username!r} is set but ${c.password_env} is not"
                        )
                    smtp.login(c.username, password)
                refused = smtp.send_message(self.message(recipient, subject, body))
        except ConnectorError:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectorError(f"{where}: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise ConnectorError(f"{where} refused {', '.join(refused)}")
