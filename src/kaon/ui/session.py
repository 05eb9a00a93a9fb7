"""Who is signed in: the platform's or a user's token in an HttpOnly, SameSite=Strict cookie scoped to /ui,
and an SDK client per token (kept, so its keep-alive connections to the API are reused)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Request, Response

from kaon.client import Client
from kaon.core.errors import BackendUnavailable, PermissionDenied

COOKIE = "kaon_ui"
USER = "kaon_ui_user"  # the signed-in user's name, shown in the header (not a secret)
PATH = "/ui"
_KEPT = 64  # clients kept, one per token, least recently used dropped


class Clients:
    """SDK clients to this server (`api_url()`: its own URL, known once it has bound)."""

    def __init__(self, api_url: Callable[[], str]) -> None:
        self._api_url = api_url
        self._kept: OrderedDict[str, Client] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> Client:
        with self._lock:
            client = self._kept.pop(token, None)
            if client is None:
                url = self._api_url()
                if not url:
                    raise BackendUnavailable("the UI is served only by a listening kaon server")
                client = Client(url, token)
            self._kept[token] = client
            while len(self._kept) > _KEPT:
                _, old = self._kept.popitem(last=False)
                old.close()
            return client

    def forget(self, token: str) -> None:
        with self._lock:
            client = self._kept.pop(token, None)
        if client is not None:
            client.close()

    def close(self) -> None:
        with self._lock:
            kept, self._kept = list(self._kept.values()), OrderedDict()
        for client in kept:
            client.close()


def token(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def sign_in(response: Response, request: Request, value: str, user: str) -> None:
    """Keep the token (HttpOnly: page scripts never read it) and the user's name."""
    secure = request.url.scheme == "https"
    for name, content, hidden in ((COOKIE, value, True), (USER, user, False)):
        response.set_cookie(
            name, content, path=PATH, httponly=hidden, samesite="strict", secure=secure
        )


def sign_out(response: Response) -> None:
    for name in (COOKIE, USER):
        response.delete_cookie(name, path=PATH)


def client(request: Request) -> Client:
    """The SDK as the signed-in user; PermissionDenied (sign in) when there is no session."""
    value = token(request)
    if not value:
        raise PermissionDenied("sign in with your kaon token")
    clients: Clients = request.app.state.clients
    return clients.get(value)
