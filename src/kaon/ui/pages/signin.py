"""Sign-in with a platform (or user's) token; sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kaon.core.errors import KaonError, PermissionDenied
from kaon.ui import session
from kaon.ui.render import page

router = APIRouter()


def _safe_next(target: str) -> str:
    """Only this UI's own pages are followed after sign-in (no open redirect)."""
    return target if target.startswith("/ui/") and not target.startswith("//") else "/ui/"


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str = "/ui/") -> HTMLResponse:
    return page(request, "signin.html", title="Sign in", next=_safe_next(next), problem="")


@router.post("/signin")
def signin(
    request: Request,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/ui/",
) -> Response:
    token = token.strip()
    clients: session.Clients = request.app.state.clients
    problem, user = "", ""
    if not token:
        problem = "Paste your token: `kaon auth token` or $KAON_HOME/token prints the platform's."
    else:
        try:
            user = clients.get(token).whoami().user
        except PermissionDenied:
            clients.forget(token)
            problem = "This token was refused: it is wrong, expired or revoked. Try another."
        except KaonError as exc:
            clients.forget(token)
            problem = f"Could not sign in: {exc.message}"
    if problem:
        return page(
            request,
            "signin.html",
            status=401,
            title="Sign in",
            next=_safe_next(next),
            problem=problem,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    session.sign_in(response, request, token, user)
    return response


@router.post("/signout")
def signout(request: Request) -> Response:
    value = session.token(request)
    if value:
        request.app.state.clients.forget(value)
    response = RedirectResponse("/ui/signin", status_code=303)
    session.sign_out(response)
    return response
