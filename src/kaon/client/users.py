"""The SDK's calls about users, API tokens and workspace members (mixed into Client).

Who the client acts as is the token it sends: `KAON_TOKEN`, else the token of `kaon init`,
else the local platform's ($KAON_HOME/token, the first admin's): kaon.client.connect."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from kaon.client.models import (
    MemberInfo,
    NewToken,
    NewUser,
    TokenInfo,
    UserInfo,
    WhoAmI,
)
from kaon.wire import decode_list


class UsersApi:
    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def whoami(self) -> WhoAmI:
        """The user this client's token stands for, and which token it is."""
        return WhoAmI.from_doc(self._json("GET", "/v1/whoami"))

    # users (adding and removing: admins only) ------------------------------------------------
    def list_users(self) -> list[UserInfo]:
        """Every user, with their roles in the workspaces this caller may see."""
        return decode_list(UserInfo, self._json("GET", "/v1/users"))

    def add_user(self, name: str, admin: bool = False) -> NewUser:
        """A new user (`.user`) and their first token (`.token`, `.secret`: returned only
        here)."""
        doc = self._json("POST", "/v1/users", json_body={"name": name, "admin": admin})
        return NewUser.from_doc(doc)

    def remove_user(self, name: str) -> None:
        """Remove a user with their tokens and roles (never the last admin)."""
        self._json("DELETE", f"/v1/users/{quote(name, safe='')}")

    # the caller's own tokens -----------------------------------------------------------------
    def create_token(self, name: str = "", expires: str | None = None) -> NewToken:
        """A new token of the caller's; `expires` a lifetime such as "30d" (None: never)."""
        doc = self._json("POST", "/v1/tokens", json_body={"name": name, "expires": expires})
        return NewToken.from_doc(doc)

    def list_tokens(self) -> list[TokenInfo]:
        """The caller's tokens (never their secrets), their jobs' included."""
        return decode_list(TokenInfo, self._json("GET", "/v1/tokens"))

    def revoke_token(self, token_id: str) -> None:
        self._json("DELETE", f"/v1/tokens/{quote(token_id, safe='')}")

    # workspace members (changing them: the workspace's owners and admins) --------------------
    def members(self, workspace: str) -> list[MemberInfo]:
        return decode_list(MemberInfo, self._json("GET", f"/v1/workspaces/{workspace}/members"))

    def share(self, workspace: str, user: str, role: str) -> MemberInfo:
        """Give `user` the role owner, editor or viewer in `workspace` (replacing theirs)."""
        path = f"/v1/workspaces/{workspace}/members/{quote(user, safe='')}"
        return MemberInfo.from_doc(self._json("PUT", path, json_body={"role": role}))

    def unshare(self, workspace: str, user: str) -> None:
        self._json("DELETE", f"/v1/workspaces/{workspace}/members/{quote(user, safe='')}")
