"""SqlMetadataStore: the MetadataStore port on SQLAlchemy Core (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import (
    Connection,
    Insert,
    Integer,
    Row,
    Table,
    bindparam,
    delete,
    exc,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from kaon.core.commit import Commit
from kaon.core.errors import AlreadyExists, BranchNotFound, RepoNotFound
from kaon.core.ids import BranchName, CommitId, Digest, PackId, RepoName, is_hex
from kaon.core.repo import Branch, Repo
from kaon.db import schema
from kaon.db.engine import DEFAULT_BUSY_TIMEOUT, WRITE_OPTION, backend_errors
from kaon.db.leases import SqlLeases
from kaon.db.migrate import migrated_engine
from kaon.ports.metadata import ChunkLocation, PackInfo

BATCH = 500
"""Values per IN (...) clause."""
PAGE = 5000
"""Rows per page when iterating whole tables."""

COMMIT_COLUMNS = tuple(col.key for col in schema.commits.columns)
CHUNK_COLUMNS = tuple(col.key for col in schema.chunks.columns)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guarded(
    method: Callable[Concatenate[SqlMetadataStore, _P], _R],
) -> Callable[Concatenate[SqlMetadataStore, _P], _R]:
    """Translate backend failures raised by `method` into kaon errors."""

    @wraps(method)
    def wrapper(self: SqlMetadataStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with backend_errors(self.url, self._busy_timeout):
            return method(self, *args, **kwargs)

    return wrapper


def _batches(values: Sequence[str]) -> Iterator[list[str]]:
    unique = list(dict.fromkeys(values))
    for i in range(0, len(unique), BATCH):
        yield unique[i : i + BATCH]


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


def _location(row: Row[Any]) -> ChunkLocation:
    return ChunkLocation(
        digest=Digest(row.digest),
        pack=PackId(row.pack),
        offset=int(row.offset),
        stored_len=int(row.stored_len),
        raw_len=int(row.raw_len),
        codec=int(row.codec),
    )


def _chunk_row(chunk: ChunkLocation) -> dict[str, Any]:
    return {
        "digest": chunk.digest,
        "pack": chunk.pack,
        "offset": chunk.offset,
        "stored_len": chunk.stored_len,
        "raw_len": chunk.raw_len,
        "codec": chunk.codec,
    }


class SqlMetadataStore(SqlLeases):
    """MetadataStore backed by SQLite (WAL) or PostgreSQL; safe to share between threads.

    `url` is a SQLAlchemy URL such as `sqlite:////abs/path/kaon.db` or
    `postgresql+psycopg://user@host/db`. The schema is migrated to head on construction.
    Upload leases: kaon.db.leases.
    """

    def __init__(self, url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.url = url
        self._busy_timeout = busy_timeout
        self._engine = migrated_engine(url, busy_timeout)
        self._writer = self._engine.execution_options(**{WRITE_OPTION: True})
        self._dialect = self._engine.dialect.name
        self._mark = "?" if self._engine.dialect.paramstyle == "qmark" else "%s"
        self._insert_chunks_sql = (
            f'INSERT INTO chunks (digest, pack, "offset", stored_len, raw_len, codec) '
            f"VALUES ({self._marks(6)}) ON CONFLICT DO NOTHING"
        )

    def close(self) -> None:
        self._engine.dispose()

    def _insert_ignore(self, table: Table) -> Insert:
        """INSERT that skips rows whose primary key exists (`rowcount`: rows inserted)."""
        stmt: Insert
        if self._dialect == "postgresql":
            stmt = postgresql.insert(table).on_conflict_do_nothing()
        else:
            stmt = sqlite.insert(table).on_conflict_do_nothing()
        return stmt.execution_options(preserve_rowcount=True)

    # -- repos -----------------------------------------------------------------------------

    @_guarded
    def create_repo(self, repo: Repo) -> None:
        row = {"name": repo.name, "created": repo.created, "description": repo.description}
        try:
            with self._writer.begin() as conn:
                conn.execute(insert(schema.repos), row)
        except exc.IntegrityError as err:
            raise AlreadyExists(f"repo {repo.name!r} already exists", repo=repo.name) from err

    @_guarded
    def get_repo(self, name: RepoName) -> Repo | None:
        r = schema.repos
        with self._engine.connect() as conn:
            row = conn.execute(select(r).where(r.c.name == name)).first()
        if row is None:
            return None
        return Repo(RepoName(row.name), float(row.created), str(row.description))

    @_guarded
    def list_repos(self) -> list[Repo]:
        r = schema.repos
        with self._engine.connect() as conn:
            rows = conn.execute(select(r).order_by(r.c.name)).all()
        return [Repo(RepoName(x.name), float(x.created), str(x.description)) for x in rows]

    @_guarded
    def delete_repo(self, name: RepoName) -> None:
        with self._writer.begin() as conn:
            conn.execute(delete(schema.commits).where(schema.commits.c.repo == name))
            conn.execute(delete(schema.branches).where(schema.branches.c.repo == name))
            conn.execute(delete(schema.repos).where(schema.repos.c.name == name))

    # -- branches --------------------------------------------------------------------------

    @_guarded
    def get_branch(self, repo: RepoName, name: BranchName) -> Branch | None:
        b = schema.branches
        query = select(b.c.head).where(b.c.repo == repo, b.c.name == name)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return Branch(repo, name, None if row.head is None else CommitId(row.head))

    @_guarded
    def list_branches(self, repo: RepoName) -> list[Branch]:
        b = schema.branches
        query = select(b.c.name, b.c.head).where(b.c.repo == repo).order_by(b.c.name)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Branch(repo, BranchName(x.name), None if x.head is None else CommitId(x.head))
            for x in rows
        ]

    @_guarded
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

    @_guarded
    def delete_branch(self, repo: RepoName, name: BranchName) -> None:
        b = schema.branches
        with self._writer.begin() as conn:
            conn.execute(delete(b).where(b.c.repo == repo, b.c.name == name))

    # -- commits ---------------------------------------------------------------------------

    @_guarded
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

    @_guarded
    def get_commit(self, commit_id: CommitId) -> Commit | None:
        c = schema.commits
        with self._engine.connect() as conn:
            row = conn.execute(select(c).where(c.c.id == commit_id)).first()
        return None if row is None else _commit(row)

    @_guarded
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

    @_guarded
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

    @_guarded
    def _commit_page(self, after: str | None) -> list[Commit]:
        c = schema.commits
        query = select(c).order_by(c.c.id).limit(PAGE)
        if after is not None:
            query = query.where(c.c.id > after)
        with self._engine.connect() as conn:
            return [_commit(row) for row in conn.execute(query)]

    # -- chunks and packs ------------------------------------------------------------------

    @_guarded
    def missing_chunks(self, digests: Sequence[Digest]) -> set[Digest]:
        missing = set(digests)
        with self._engine.connect() as conn:
            for batch in _batches(digests):
                # through the driver, and counted first: a commit of 20,000 files asks about
                # 20,000 chunks that are all there (and a new upload about chunks that are
                # all missing); fetching 20,000 rows cost ~30 ms, counting them ~5 ms
                where = f"FROM chunks WHERE digest IN ({self._marks(len(batch))})"
                args = tuple(batch)
                found = conn.exec_driver_sql(f"SELECT count(*) {where}", args).scalar_one()
                if found == len(batch):
                    missing.difference_update(batch)
                elif found:
                    rows = conn.exec_driver_sql(f"SELECT digest {where}", args)
                    missing.difference_update(d for (d,) in rows)
        return missing

    def _marks(self, n: int) -> str:
        return ", ".join([self._mark] * n)

    @_guarded
    def add_pack(self, pack: PackInfo, chunks: Iterable[ChunkLocation]) -> None:
        # plain tuples through the driver: SQLAlchemy's per-row parameter handling cost
        # ~10 us a row, half the server's time to take a pack of 20,000 small files
        rows = [(x.digest, x.pack, x.offset, x.stored_len, x.raw_len, x.codec) for x in chunks]
        with self._writer.begin() as conn:
            info = {"id": pack.id, "size": pack.size, "created": pack.created}
            conn.execute(self._insert_ignore(schema.packs), info)
            if rows:
                conn.exec_driver_sql(self._insert_chunks_sql, rows)

    @_guarded
    def locate(self, digests: Sequence[Digest]) -> dict[Digest, ChunkLocation]:
        found: dict[Digest, ChunkLocation] = {}
        with self._engine.connect() as conn:
            for batch in _batches(digests):
                # through the driver: a folder's archive locates 20,000 chunks, and building
                # the statement and Row objects cost ~3x the query
                query = (
                    'SELECT digest, pack, "offset", stored_len, raw_len, codec FROM chunks '
                    f"WHERE digest IN ({self._marks(len(batch))})"
                )
                for d, pack, offset, stored_len, raw_len, codec in conn.exec_driver_sql(
                    query, tuple(batch)
                ):
                    found[d] = ChunkLocation(
                        Digest(d), PackId(pack), offset, stored_len, raw_len, codec
                    )
        return found

    @_guarded
    def list_packs(self) -> list[PackInfo]:
        p = schema.packs
        with self._engine.connect() as conn:
            rows = conn.execute(select(p).order_by(p.c.created, p.c.id)).all()
        return [PackInfo(PackId(x.id), int(x.size), float(x.created)) for x in rows]

    @_guarded
    def pack_chunks(self, pack: PackId) -> list[ChunkLocation]:
        ch = schema.chunks
        query = select(ch).where(ch.c.pack == pack).order_by(ch.c.offset, ch.c.digest)
        with self._engine.connect() as conn:
            return [_location(row) for row in conn.execute(query)]

    @_guarded
    def move_chunks(self, chunks: Iterable[ChunkLocation]) -> None:
        rows = [{f"b_{k}": v for k, v in _chunk_row(x).items()} for x in chunks]
        if not rows:
            return
        ch = schema.chunks
        stmt = (
            update(ch)
            .where(ch.c.digest == bindparam("b_digest"))
            .values({k: bindparam(f"b_{k}") for k in CHUNK_COLUMNS if k != "digest"})
        )
        with self._writer.begin() as conn:
            conn.execute(stmt, rows)

    @_guarded
    def drop_chunks(self, digests: Iterable[Digest]) -> None:
        ch = schema.chunks
        with self._writer.begin() as conn:
            for batch in _batches(list(digests)):
                conn.execute(delete(ch).where(ch.c.digest.in_(batch)))

    @_guarded
    def drop_pack(self, pack: PackId) -> None:
        with self._writer.begin() as conn:
            conn.execute(delete(schema.chunks).where(schema.chunks.c.pack == pack))
            conn.execute(delete(schema.packs).where(schema.packs.c.id == pack))

    def iter_chunk_digests(self) -> Iterator[Digest]:
        after: str | None = None
        while page := self._digest_page(after):
            yield from page
            after = page[-1]

    @_guarded
    def _digest_page(self, after: str | None) -> list[Digest]:
        ch = schema.chunks
        query = select(ch.c.digest).order_by(ch.c.digest).limit(PAGE)
        if after is not None:
            query = query.where(ch.c.digest > after)
        with self._engine.connect() as conn:
            return [Digest(x) for x in conn.scalars(query)]
