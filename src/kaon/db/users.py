"""SqlUserStore: users, hashed API tokens, workspace roles and the audit log (SQLite or
PostgreSQL, the metadata database)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import RowMapping, and_, delete, exc, insert, or_, select, update

from kaon.core.errors import AlreadyExists
from kaon.core.users import ApiToken, Role, TokenId, User, UserName
from kaon.db import schema
from kaon.db.sqlstore import SqlStore
from kaon.ports.users import AuditEntry, AuditQuery

_u = schema.users
_t = schema.api_tokens
_r = schema.workspace_roles
_a = schema.audit


class SqlUserStore(SqlStore):
    # users -------------------------------------------------------------------------------
    def add_user(self, user: User) -> None:
        row = {"name": user.name, "created": user.created, "admin": int(user.admin)}
        try:
            with self._db.guard(), self._writer.begin() as conn:
                if conn.execute(select(_u.c.name).where(_u.c.name == user.name)).first():
                    raise AlreadyExists(f"user {user.name!r} already exists")
                conn.execute(insert(_u), row)
        except exc.IntegrityError as err:
            raise AlreadyExists(f"user {user.name!r} already exists") from err

    def get_user(self, name: str) -> User | None:
        with self._db.guard(), self._engine.connect() as conn:
            row = conn.execute(select(_u).where(_u.c.name == name)).first()
        return _user(row._mapping) if row is not None else None

    def list_users(self) -> list[User]:
        with self._db.guard(), self._engine.connect() as conn:
            return [_user(r._mapping) for r in conn.execute(select(_u).order_by(_u.c.created))]

    def delete_user(self, name: str) -> bool:
        with self._db.guard(), self._writer.begin() as conn:
            # explicit, not only ON DELETE CASCADE: SQLite enforces it only with foreign_keys on
            conn.execute(delete(_t).where(_t.c.user == name))
            conn.execute(delete(_r).where(_r.c.user == name))
            return bool(conn.execute(delete(_u).where(_u.c.name == name)).rowcount)

    # tokens ------------------------------------------------------------------------------
    def add_token(self, token: ApiToken, digest: str) -> None:
        row = {
            "id": token.id,
            "digest": digest,
            "user": token.user,
            "name": token.name,
            "created": token.created,
            "expires": token.expires,
            "workspace": token.workspace,
            "job": token.job,
        }
        try:
            with self._db.guard(), self._writer.begin() as conn:
                conn.execute(insert(_t), row)
        except exc.IntegrityError as err:
            raise AlreadyExists(f"token {token.id!r} already exists") from err

    def token_by_digest(self, digest: str) -> ApiToken | None:
        with self._db.guard(), self._engine.connect() as conn:
            row = conn.execute(select(_t).where(_t.c.digest == digest)).first()
        return _token(row._mapping) if row is not None else None

    def list_tokens(self, user: str | None = None) -> list[ApiToken]:
        stmt = select(_t).order_by(_t.c.created)
        if user is not None:
            stmt = stmt.where(_t.c.user == user)
        with self._db.guard(), self._engine.connect() as conn:
            return [_token(r._mapping) for r in conn.execute(stmt)]

    def delete_token(self, token: TokenId) -> bool:
        with self._db.guard(), self._writer.begin() as conn:
            return bool(conn.execute(delete(_t).where(_t.c.id == token)).rowcount)

    def delete_job_tokens(self, job: str) -> int:
        with self._db.guard(), self._writer.begin() as conn:
            return int(conn.execute(delete(_t).where(_t.c.job == job)).rowcount)

    # roles -------------------------------------------------------------------------------
    def set_role(self, workspace: str, user: UserName, role: Role) -> None:
        key = and_(_r.c.workspace == workspace, _r.c.user == user)
        with self._db.guard(), self._writer.begin() as conn:
            if conn.execute(update(_r).where(key).values(role=role.value)).rowcount == 0:
                conn.execute(insert(_r), {"workspace": workspace, "user": user, "role": role.value})

    def drop_role(self, workspace: str, user: str) -> bool:
        key = and_(_r.c.workspace == workspace, _r.c.user == user)
        with self._db.guard(), self._writer.begin() as conn:
            return bool(conn.execute(delete(_r).where(key)).rowcount)

    def role(self, workspace: str, user: str) -> Role | None:
        stmt = select(_r.c.role).where(_r.c.workspace == workspace, _r.c.user == user)
        with self._db.guard(), self._engine.connect() as conn:
            value = conn.execute(stmt).scalar()
        return Role(value) if value is not None else None

    def members(self, workspace: str) -> list[tuple[UserName, Role]]:
        stmt = select(_r.c.user, _r.c.role).where(_r.c.workspace == workspace).order_by(_r.c.user)
        with self._db.guard(), self._engine.connect() as conn:
            return [(UserName(u), Role(r)) for u, r in conn.execute(stmt)]

    def roles_of(self, user: str) -> dict[str, Role]:
        stmt = select(_r.c.workspace, _r.c.role).where(_r.c.user == user)
        with self._db.guard(), self._engine.connect() as conn:
            return {w: Role(r) for w, r in conn.execute(stmt)}

    # audit -------------------------------------------------------------------------------
    def record(self, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        rows = [
            {
                "at": e.at,
                "user": e.user,
                "action": e.action,
                "target": e.target,
                "workspace": e.workspace,
                "status": e.status,
                "detail": e.detail,
            }
            for e in entries
        ]
        with self._db.guard(), self._writer.begin() as conn:
            conn.execute(insert(_a), rows)

    def audit(self, query: AuditQuery) -> list[AuditEntry]:
        stmt = select(_a).order_by(_a.c.id.desc()).limit(max(0, query.limit))
        if query.user is not None:
            stmt = stmt.where(_a.c.user == query.user)
        if query.workspace is not None:
            stmt = stmt.where(_a.c.workspace == query.workspace)
        if query.action:
            stmt = stmt.where(_a.c.action.contains(query.action, autoescape=True))
        if query.since is not None:
            stmt = stmt.where(_a.c.at >= query.since)
        if query.until is not None:
            stmt = stmt.where(_a.c.at < query.until)
        if query.viewer is not None:
            mine = _a.c.user == query.viewer
            stmt = stmt.where(or_(mine, _a.c.workspace.in_(query.owned)) if query.owned else mine)
        with self._db.guard(), self._engine.connect() as conn:
            return [_entry(r._mapping) for r in conn.execute(stmt)]


def _user(m: RowMapping) -> User:
    return User(UserName(m["name"]), float(m["created"]), bool(m["admin"]))


def _token(m: RowMapping) -> ApiToken:
    expires = m["expires"]
    return ApiToken(
        TokenId(m["id"]),
        UserName(m["user"]),
        m["name"],
        float(m["created"]),
        float(expires) if expires is not None else None,
        m["workspace"],
        m["job"],
    )


def _entry(m: RowMapping) -> AuditEntry:
    return AuditEntry(
        at=float(m["at"]),
        user=m["user"],
        action=m["action"],
        target=m["target"],
        workspace=m["workspace"],
        status=int(m["status"]),
        detail=m["detail"],
        id=int(m["id"]),
    )
