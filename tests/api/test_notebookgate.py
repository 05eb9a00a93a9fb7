"""The notebook gate's admission (kaon.api.notebookgate.admitted): the token in the query or
an Authorization header, or the cookie the gate sets; anything else is refused."""

from __future__ import annotations

from kaon.api.notebookgate import admitted, cookie_name, cookie_value
from kaon.core.notebooks import NotebookState, token_digest
from kaon.services.notebooks import Gate

GATE = Gate("/tmp/x.sock", token_digest("right"), NotebookState.RUNNING)


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
    cookie = f"{cookie_name('nb')}={cookie_value(GATE)}"
    assert admitted(scope(b"token=wrong", cookie=cookie), "nb", GATE)[0] is False


def test_the_cookie_admits_its_notebook_only() -> None:
    cookie = f"{cookie_name('nb')}={cookie_value(GATE)}"
    assert admitted(scope(cookie=cookie), "nb", GATE) == (True, False)
    assert admitted(scope(cookie=cookie), "other", GATE)[0] is False
    assert admitted(scope(cookie=f"{cookie_name('nb')}=forged"), "nb", GATE)[0] is False
    assert admitted(scope(cookie="garbage;;=="), "nb", GATE)[0] is False
