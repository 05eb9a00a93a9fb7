"""Database: one SQLite or PostgreSQL metadata database, opened and migrated once, closed once,
with every SQL store built over its engine (the MetadataDatabase port)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cached_property

from sqlalchemy import Engine

from kaon.core.backends import BackendHealth, BackendRole, redact_url
from kaon.core.errors import KaonError
from kaon.db.cluster import SqlClusterStore
from kaon.db.credentials import SqlCredentialStore
from kaon.db.endpoints import SqlEndpointStore
from kaon.db.engine import DEFAULT_BUSY_TIMEOUT, WRITE_OPTION, backend_errors, make_engine
from kaon.db.jobs import SqlJobStore
from kaon.db.migrate import current_revision, upgrade_engine
from kaon.db.notebooks import SqlNotebookStore
from kaon.db.pipelines import SqlPipelineStore
from kaon.db.placement import SqlPlacementStore
from kaon.db.provenance import SqlProvenanceStore
from kaon.db.releases import SqlReleaseStore
from kaon.db.s3uploads import SqlUploadStore
from kaon.db.sql import SqlMetadataStore
from kaon.db.stagings import SqlStagingStore
from kaon.db.users import SqlUserStore
from kaon.db.workspaces import SqlWorkspaceStore


class Database:
    """The metadata database at `url` (`sqlite:////abs/path/kaon.db`,
    `postgresql+psycopg://user@host/db`), migrated to the newest schema when opened.

    Thread-safe: the stores share its connection pool. `close()` releases it.
    """

    def __init__(self, url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.url = url
        self.busy_timeout = busy_timeout
        self.engine: Engine = make_engine(url, busy_timeout=busy_timeout)
        try:
            with self.guard():
                upgrade_engine(self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        self.writer: Engine = self.engine.execution_options(**{WRITE_OPTION: True})
        self.dialect = self.engine.dialect.name
        self.mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"

    def guard(self) -> AbstractContextManager[None]:
        """Re-raise the database's failures inside the block as kaon errors."""
        return backend_errors(self.url, self.busy_timeout)

    def health(self) -> BackendHealth:
        """A round trip now: the server's version (SQLite's library version) and the schema."""
        url = redact_url(self.url)
        try:
            with self.guard(), self.engine.connect() as conn:
                if self.dialect == "postgresql":
                    found = conn.exec_driver_sql("SHOW server_version").scalar()
                    version = f"PostgreSQL {str(found).split()[0]}"
                else:
                    version = f"SQLite {conn.exec_driver_sql('SELECT sqlite_version()').scalar()}"
                revision = current_revision(conn)
        except Exception as exc:  # noqa: BLE001 - health never raises: it says what failed
            text = exc.message if isinstance(exc, KaonError) else f"{type(exc).__name__}: {exc}"
            return BackendHealth(BackendRole.DATABASE, url, False, "", text.splitlines()[0])
        return BackendHealth(BackendRole.DATABASE, url, True, version, f"schema {revision}")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the stores ------------------------------------------------------------------------

    @cached_property
    def metadata(self) -> SqlMetadataStore:
        return SqlMetadataStore(self)

    @cached_property
    def workspaces(self) -> SqlWorkspaceStore:
        return SqlWorkspaceStore(self)

    @cached_property
    def jobs(self) -> SqlJobStore:
        return SqlJobStore(self)

    @cached_property
    def endpoints(self) -> SqlEndpointStore:
        return SqlEndpointStore(self)

    @cached_property
    def notebooks(self) -> SqlNotebookStore:
        return SqlNotebookStore(self)

    @cached_property
    def releases(self) -> SqlReleaseStore:
        return SqlReleaseStore(self)

    @cached_property
    def provenance(self) -> SqlProvenanceStore:
        return SqlProvenanceStore(self)

    @cached_property
    def users(self) -> SqlUserStore:
        return SqlUserStore(self)

    @cached_property
    def pipelines(self) -> SqlPipelineStore:
        return SqlPipelineStore(self)

    @cached_property
    def cluster(self) -> SqlClusterStore:
        return SqlClusterStore(self)

    @cached_property
    def placements(self) -> SqlPlacementStore:
        return SqlPlacementStore(self)

    @cached_property
    def stagings(self) -> SqlStagingStore:
        return SqlStagingStore(self)

    @cached_property
    def s3_uploads(self) -> SqlUploadStore:
        return SqlUploadStore(self)

    def credentials(self, key: bytes) -> SqlCredentialStore:
        return SqlCredentialStore(self, key)
