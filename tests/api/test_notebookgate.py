"""The notebook gate's admission (kaon.api.notebookgate.admitted): the token in the query or
an Authorization header, or the signed, unexpired cookie the gate sets; anything else (a
forged or expired cookie included) is refused."""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace

from kaon.api.notebookgate import COOKIE_TTL, _cookie, admitted, cookie_name, cookie_value
from kaon.core.notebooks import Gate, NotebookState, cookie_key, token_digest

SECRET = bytes(range(32))  # a server's secret.key
GATE = Gate("/tmp/x.sock", token_digest("right"), NotebookState.RUNNING, cookie_key(SECRET))
LATER = int(time.time()) + 3600


def good(name: str = "nb", gate: Gate = GATE, expires: int = LATER) -> str:
    return f"{cookie_name(name)}={cookie_value(name, gate, expires)}"


def scope(query: bytes = b"", **headers: str) -> dict[str, object]:
    return {
        "type": "http",
        "query_string": query,
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }


def test_the_token_admits_and_sets_the_cookie() -> None:
    assert admitted(scope(b"token=right"), "nb", GATE) == (True, True)
    assert admitted(scope(authorization="token right"), "nb", GATE) == (True, True)
    assert admitted(scope(authorization="Bearer right"), "nb", GATE) == (True, True)


def test_a_wrong_or_missing_token_is_refused() -> None:
    assert admitted(scope(b"token=wrong"), "nb", GATE)[0] is False
    assert admitted(scope(authorization="token wrong"), "nb", GATE)[0] is False
    assert admitted(scope(), "nb", GATE)[0] is False
    # a wrong token is refused even with a good cookie: what is presented decides
    cookie = good()
    assert admitted(scope(b"token=wrong", cookie=cookie), "nb", GATE)[0] is False


def test_the_cookie_admits_its_notebook_only() -> None:
    cookie = good()
    assert admitted(scope(cookie=cookie), "nb", GATE) == (True, False)
    assert admitted(scope(cookie=cookie), "other", GATE)[0] is False
    assert admitted(scope(cookie=f"{cookie_name('nb')}=forged"), "nb", GATE)[0] is False
    assert admitted(scope(cookie="garbage;;=="), "nb", GATE)[0] is False


def test_a_forged_cookie_is_refused() -> None:
    digest = GATE.token_digest  # what the database holds: it must not be enough
    old_style = hashlib.sha256(f"cookie:{digest}".encode()).hexdigest()
    assert admitted(scope(cookie=f"{cookie_name('nb')}={old_style}"), "nb", GATE)[0] is False
    other = replace(GATE, cookie_key=cookie_key(b"another server secret, not ours"))
    assert admitted(scope(cookie=good(gate=other)), "nb", GATE)[0] is False
    value = cookie_value("nb", GATE, LATER)
    stretched = f"{LATER + 10**6}.{value.partition('.')[2]}"  # a later expiry, same signature
    assert admitted(scope(cookie=f"{cookie_name('nb')}={stretched}"), "nb", GATE)[0] is False
    assert admitted(scope(cookie=good(name="other")), "nb", GATE)[0] is False


def test_an_expired_cookie_is_refused() -> None:
    now = time.time()
    past = good(expires=int(now) - 1)
    assert admitted(scope(cookie=past), "nb", GATE, now=now)[0] is False
    soon = good(expires=int(now) + 5)
    assert admitted(scope(cookie=soon), "nb", GATE, now=now)[0] is True
    assert admitted(scope(cookie=soon), "nb", GATE, now=now + 6)[0] is False


def test_the_cookie_set_is_signed_and_expires() -> None:
    [(key, raw)] = _cookie("nb", GATE)
    assert key == b"set-cookie"
    text = raw.decode()
    assert f"Max-Age={COOKIE_TTL};" in text and "HttpOnly" in text and "SameSite=Strict" in text
    pair = text.split(";")[0]
    assert admitted(scope(cookie=pair), "nb", GATE)[0] is True
    expires = int(pair.partition("=")[2].partition(".")[0])
    assert admitted(scope(cookie=pair), "nb", GATE, now=expires + 1)[0] is False


def test_another_server_with_the_same_secret_accepts_the_cookie() -> None:
    """Every server derives the key from the secret.key they share: a cookie one server set
    opens the notebook through another; a server with another secret refuses it."""
    [(_, raw)] = _cookie("nb", GATE)
    pair = raw.decode().split(";")[0]
    twin = Gate("/tmp/y.sock", token_digest("right"), NotebookState.RUNNING, cookie_key(SECRET))
    assert admitted(scope(cookie=pair), "nb", twin)[0] is True
    stranger = replace(twin, cookie_key=cookie_key(b"x" * 32))
    assert admitted(scope(cookie=pair), "nb", stranger)[0] is False


def test_a_new_token_voids_the_old_cookies() -> None:
    redeployed = replace(GATE, token_digest=token_digest("new"))
    assert admitted(scope(cookie=good()), "nb", redeployed)[0] is False


def test_a_gate_without_a_key_takes_no_cookie() -> None:
    bare = replace(GATE, cookie_key=b"")
    assert admitted(scope(cookie=good()), "nb", bare)[0] is False
    assert _cookie("nb", bare) == []
