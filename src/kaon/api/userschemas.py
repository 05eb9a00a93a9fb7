"""Wire types of users, API tokens and workspace members (Pydantic lives at the API only)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

USER = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$"


class Strict(BaseModel):
    """A request body: a field the server does not know is refused (400), never ignored."""

    model_config = ConfigDict(extra="forbid")


class UserIn(Strict):
    name: str = Field(pattern=USER)
    admin: bool = Field(False, strict=True)


class UserOut(BaseModel):
    name: str
    admin: bool
    created: float
    workspaces: dict[str, str] = Field(
        description="workspace -> role, only the workspaces the caller may see"
    )


class TokenIn(Strict):
    name: str = Field("", max_length=100, description="what the token is for (e.g. laptop)")
    expires: str | None = Field(None, description="a lifetime such as 30d, 12h (none: never)")


class TokenOut(BaseModel):
    id: str
    user: str
    name: str
    created: float
    expires: float | None
    workspace: str | None = Field(None, description="a job's token: only this workspace")
    job: str | None = None


class NewUserOut(BaseModel):
    user: UserOut
    token: TokenOut
    secret: str = Field(description="the token itself: shown only in this answer")


class NewTokenOut(BaseModel):
    token: TokenOut
    secret: str = Field(description="the token itself: shown only in this answer")


class WhoAmIOut(BaseModel):
    user: str
    admin: bool
    token: TokenOut | None = Field(None, description="the token this request carried")
    workspace: str | None = Field(None, description="set when a job's token narrows the user")
    job: str | None = None


class MemberIn(Strict):
    role: str = Field(
        description="owner, editor or viewer",
        json_schema_extra={"enum": ["owner", "editor", "viewer"]},
    )


class MemberOut(BaseModel):
    workspace: str
    user: str
    role: str
