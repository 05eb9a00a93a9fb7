"""SqlMetadataStore: the MetadataStore port on SQLAlchemy Core (SQLite or PostgreSQL): repos,
branches and commits here, chunks and packs in kaon.db.chunks, leases in kaon.db.leases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Integer, Row, delete, exc, insert, literal_column, select, update

from kaon.core.commit import Commit
from kaon.core.errors import AlreadyExists, BranchNotFound, RepoNotFound
from kaon.core.ids import BranchName, CommitId, Digest, RepoName, is_hex
from kaon.core.repo import Branch, Repo
from kaon.db import schema
from kaon.db.chunks import SqlChunkIndex
from kaon.db.leases import SqlLeases
from kaon.db.sqlstore import guarded

PAGE = 5000
"""Rows per page when iterating whole tables."""

COMMIT_COLUMNS = tuple(col.key for col in schema.commits.columns)


def _commit(row: Row[Any]) -> Commit:
    m = row._mapping  # not attribute access: `count` would be tuple.count
    return Commit(
        id=CommitId(m["id"]),
        repo=RepoName(m["repo"]),
        branch=BranchName(m["branch"]),
        parent=None if m["parent"] is None else CommitId(m["parent"]),
        tree=None if m["tree"] is None else Digest(m["tree"]),
        size=int(m["size"]),
        count=int(m["count"]),
        message=str(m["message"]),
        author=str(m["author"]),
        started=float(m["started"]),
        finished=float(m["finished"]),
    )


class SqlMetadataStore(SqlChunkIndex, SqlLeases):
    """MetadataStore backed by SQLite (WAL) or PostgreSQL; safe to share between threads.

    Built over a kaon.db.database.Database (which migrates and closes it). Chunks and packs:
    kaon.db.chunks; upload leases: kaon.db.leases.
    """

    # -- repos -----------------------------------------------------------------------------

    @guarded
    def create_repo(self, repo: Repo) -> None:
        row = {"name": repo.name, "created": repo.created, "description": repo.description}
        try:
            with self._writer.begin() as conn:
                conn.execute(insert(schema.repos), row)
        except exc.IntegrityError as err:
            raise AlreadyExists(f"repo {repo.name!r} already exists", repo=repo.name) from err

    @guarded
    def get_repo(self, name: RepoName) -> Repo | None:
        r = schema.repos
        with self._engine.connect() as conn:
            row = conn.execute(select(r).where(r.c.name == name)).first()
        if row is None:
            return None
        return Repo(RepoName(row.name), float(row.created), str(row.description))

    @guarded
    def list_repos(self) -> list[Repo]:
        r = schema.repos
        with self._engine.connect() as conn:
            rows = conn.execute(select(r).order_by(r.c.name)).all()
        return [Repo(RepoName(x.name), float(x.created), str(x.description)) for x in rows]

    @guarded
    def delete_repo(self, name: RepoName) -> None:
        with self._writer.begin() as conn:
            conn.execute(delete(schema.commits).where(schema.commits.c.repo == name))
            conn.execute(delete(schema.branches).where(schema.branches.c.repo == name))
            conn.execute(delete(schema.repos).where(schema.repos.c.name == name))

    # -- branches --------------------------------------------------------------------------

    @guarded
    def get_branch(self, repo: RepoName, name: BranchName) -> Branch | None:
        b = schema.branches
        query = select(b.c.head).where(b.c.repo == repo, b.c.name == name)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return Branch(repo, name, None if row.head is None else CommitId(row.head))

    @guarded
    def list_branches(self, repo: RepoName) -> list[Branch]:
        b = schema.branches
        query = select(b.c.name, b.c.head).where(b.c.repo == repo).order_by(b.c.name)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Branch(repo, BranchName(x.name), None if x.head is None else CommitId(x.head))
            for x in rows
        ]

    @guarded
    def set_branch(
        self, repo: RepoName, name: BranchName, head: CommitId | None, *, create: bool
    ) -> None:
        b = schema.branches
        try:
            with self._writer.begin() as conn:
                if create:
                    row = {"repo": repo, "name": name, "head": head}
                    if conn.execute(self._insert_ignore(b), row).rowcount == 1:
                        return
                    raise AlreadyExists(
                        f"branch {name!r} already exists in repo {repo!r}",
                        repo=repo,
                        branch=name,
                    )
                moved = conn.execute(
                    update(b).where(b.c.repo == repo, b.c.name == name).values(head=head)
                )
                if moved.rowcount != 1:
                    raise BranchNotFound(
                        f"branch {name!r} not found in repo {repo!r}", repo=repo, branch=name
                    )
        except exc.IntegrityError as err:
            raise RepoNotFound(f"repo {repo!r} not found", repo=repo) from err

    @guarded
    def delete_branch(self, repo: RepoName, name: BranchName) -> None:
        b = schema.branches
        with self._writer.begin() as conn:
            conn.execute(delete(b).where(b.c.repo == repo, b.c.name == name))

    # -- commits ---------------------------------------------------------------------------

    @guarded
    def add_commit(self, commit: Commit, expected_head: CommitId | None) -> bool:
        b = schema.branches
        this = (b.c.repo == commit.repo, b.c.name == commit.branch)
        try:
            with self._writer.begin() as conn:
                if not self._swap_head(conn, commit, expected_head, this):
                    return False
                row = {f: getattr(commit, f) for f in COMMIT_COLUMNS}
                conn.execute(self._insert_ignore(schema.commits), row)
        except exc.IntegrityError as err:
            raise RepoNotFound(f"repo {commit.repo!r} not found", repo=commit.repo) from err
        return True

    def _swap_head(
        self, conn: Connection, commit: Commit, expected: CommitId | None, this: Any
    ) -> bool:
        """Compare-and-set the branch head inside `conn`'s transaction."""
        b = schema.branches
        cond = b.c.head.is_(None) if expected is None else b.c.head == expected
        moved = conn.execute(update(b).where(*this, cond).values(head=commit.id))
        if moved.rowcount == 1:
            return True
        if expected is not None:
            return False
        row = {"repo": commit.repo, "name": commit.branch, "head": commit.id}
        return conn.execute(self._insert_ignore(b), row).rowcount == 1

    @guarded
    def get_commit(self, commit_id: CommitId) -> Commit | None:
        c = schema.commits
        with self._engine.connect() as conn:
            row = conn.execute(select(c).where(c.c.id == commit_id)).first()
        return None if row is None else _commit(row)

    @guarded
    def find_commits(self, repo: RepoName, prefix: str, limit: int = 2) -> list[CommitId]:
        if (prefix and not is_hex(prefix)) or limit <= 0:
            return []
        c = schema.commits
        query = (
            select(c.c.id)
            .where(c.c.repo == repo, c.c.id >= prefix, c.c.id < prefix + "g")
            .where(c.c.id.startswith(prefix, autoescape=True))
            .order_by(c.c.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [CommitId(x) for x in conn.scalars(query)]

    @guarded
    def history(self, start: CommitId, limit: int | None = None) -> list[Commit]:
        if limit is not None and limit <= 0:
            return []
        c = schema.commits
        one = literal_column("1", Integer).label("depth")
        chain = select(*c.c, one).where(c.c.id == start).cte("chain", recursive=True)
        step = select(*c.c, (chain.c.depth + 1).label("depth")).join(
            chain, c.c.id == chain.c.parent
        )
        if limit is not None:
            step = step.where(chain.c.depth < limit)
        chain = chain.union_all(step)
        query = select(*(chain.c[k] for k in COMMIT_COLUMNS)).order_by(chain.c.depth)
        with self._engine.connect() as conn:
            return [_commit(row) for row in conn.execute(query)]

    def iter_commits(self) -> Iterator[Commit]:
        after: str | None = None
        while page := self._commit_page(after):
            yield from page
            after = page[-1].id

    @guarded
    def _commit_page(self, after: str | None) -> list[Commit]:
        c = schema.commits
        query = select(c).order_by(c.c.id).limit(PAGE)
        if after is not None:
            query = query.where(c.c.id > after)
        with self._engine.connect() as conn:
            return [_commit(row) for row in conn.execute(query)]
