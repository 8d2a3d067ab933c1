"""Notifications fixtures: a real SMTP server (aiosmtpd) on a free loopback port that keeps
every message it accepts, and the documents' shop (SO-1 finished for acme, SO-2 released for
volt, both due five days after T0)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from documents.conftest import T0, Shop, client, env, shop


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[str]:
        return [str(m["Subject"]) for m in self.messages if m["To"] == address]


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname=self.host, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer("127.0.0.1", free_port(), Inbox())
    server.start()
    try:
        yield server
    finally:
        server.stop()


__all__ = ["T0", "Inbox", "Shop", "SmtpServer", "client", "env", "free_port", "shop"]
