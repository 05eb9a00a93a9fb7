"""Users and their API tokens: who am I, add/list/remove users (admins), create/list/revoke
one's own tokens. Secrets are in the answer that creates them and nowhere else."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from kaon.api.access import visible_workspaces
from kaon.api.answers import token_info, user_info
from kaon.api.auth import bearer
from kaon.api.deps import platform, principal
from kaon.core.errors import Forbidden
from kaon.core.units import parse_duration
from kaon.core.users import Principal, User
from kaon.wire import NewToken, NewUser, TokenInfo, UserInfo, WhoAmI
from kaon.wire.requests import TokenIn, UserIn
from kaon.wiring import Platform

router = APIRouter(tags=["users"])


def _user_out(p: Platform, u: User, shown: set[str]) -> UserInfo:
    roles = p.users.roles_of(u.name)
    return user_info(u, {w: r.value for w, r in sorted(roles.items()) if w in shown})


def _admin(who: Principal, what: str) -> None:
    if not who.admin or who.job is not None:
        raise Forbidden(f"{who.describe()} is not an admin: only admins {what}")


def _a_person(who: Principal, what: str) -> None:
    if who.job is not None:
        raise Forbidden(f"{who.describe()} may not {what} (a job's token)")


@router.get("/v1/whoami", response_model=WhoAmI)
def whoami(
    request: Request, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> WhoAmI:
    """Who the token of this request stands for, and which token it is."""
    token = p.users.token_of(bearer(request))
    return WhoAmI(
        user=who.user,
        admin=who.admin,
        token=token_info(token) if token else None,
        workspace=who.workspace,
        job=who.job,
    )


@router.get("/v1/users", response_model=list[UserInfo])
def list_users(
    p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> list[UserInfo]:
    """Every user, with their roles in the workspaces the caller may see."""
    shown = visible_workspaces(p, who)
    return [_user_out(p, u, shown) for u in p.users.all()]


@router.post("/v1/users", response_model=NewUser, status_code=201)
def add_user(
    body: UserIn, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> NewUser:
    """Add a user (admins only); the answer holds their first token, shown only here."""
    _admin(who, "add users")
    user, secret = p.users.add(body.name, body.admin)
    token = next(t for t in p.users.tokens(user.name))
    return NewUser(user=_user_out(p, user, set()), token=token_info(token), secret=secret)


@router.delete("/v1/users/{user}", status_code=204)
def remove_user(
    user: str, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> None:
    """Remove a user with their tokens, roles and S3 keys (admins only; never the last
    admin)."""
    _admin(who, "remove users")
    p.user_lifecycle.remove(user)


@router.get("/v1/tokens", response_model=list[TokenInfo])
def list_tokens(
    p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> list[TokenInfo]:
    """The caller's API tokens (never their secrets), jobs' tokens included."""
    return [token_info(t) for t in p.users.tokens(who.user)]


@router.post("/v1/tokens", response_model=NewToken, status_code=201)
def create_token(
    body: TokenIn, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> NewToken:
    """A new token of the caller's (its secret is shown only in this answer)."""
    _a_person(who, "create tokens")
    lifetime = parse_duration(body.expires) if body.expires else None
    token, secret = p.users.create_token(who.user, body.name or "token", lifetime)
    return NewToken(token=token_info(token), secret=secret)


@router.delete("/v1/tokens/{token}", status_code=204)
def revoke_token(
    token: str, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> None:
    """Revoke one of the caller's tokens (an admin: anyone's); 404 for another user's."""
    _a_person(who, "revoke tokens")
    p.users.revoke_token(who, token)
