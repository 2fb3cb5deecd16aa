"""The served agent's HTTP app (``http.app`` in ``langgraph.json``): no routes of its
own, one middleware, so the server answers the operator and not any website.

``langgraph.json``'s ``http.cors`` allows only loopback origins (the operator's own
front ends); a preflight from any other site gets no ``Access-Control-Allow-Origin``.
But ``langgraph dev`` always turns on LangGraph's private-network middleware, which
adds ``Access-Control-Allow-Private-Network: true`` to every ``OPTIONS`` answer, the
refused ones included (the environment cannot turn it off: the CLI overwrites
``ALLOW_PRIVATE_NETWORK``). A custom app's middleware runs outside LangGraph's, so
this one removes that allowance from every answer that allows no origin.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["NoPrivateNetworkForStrangers", "app"]

_ALLOW_ORIGIN = b"access-control-allow-origin"
_ALLOW_PRIVATE_NETWORK = b"access-control-allow-private-network"


class NoPrivateNetworkForStrangers:
    """Drops ``Access-Control-Allow-Private-Network`` from answers whose CORS check
    allowed no origin (ASGI middleware: no body buffering, streams pass through)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_checked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                if not any(name.lower() == _ALLOW_ORIGIN for name, _ in headers):
                    headers = [(n, v) for n, v in headers if n.lower() != _ALLOW_PRIVATE_NETWORK]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_checked)


app = Starlette(middleware=[Middleware(NoPrivateNetworkForStrangers)])
