"""SqlStore: what every SQL store shares: the one Database's engines, and each public method
run under backend-error translation (`@guarded`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite

if TYPE_CHECKING:
    from kaon.db.database import Database

BATCH = 500
"""Values per IN (...) clause."""

_P = ParamSpec("_P")
_R = TypeVar("_R")
_S = TypeVar("_S", bound="SqlStore")


class SqlStore:
    """A store over `db`, which it neither migrates nor closes (the Database does both)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.url = db.url
        self._busy_timeout = db.busy_timeout
        self._engine = db.engine
        self._writer = db.writer
        self._dialect = db.dialect
        self._mark = db.mark

    def _marks(self, n: int) -> str:
        """`n` parameter placeholders of the driver, comma-separated."""
        return ", ".join([self._mark] * n)

    def _insert_ignore(self, table: Table) -> Insert:
        """INSERT that skips rows whose primary key exists (`rowcount`: rows inserted)."""
        stmt: Insert
        if self._dialect == "postgresql":
            stmt = postgresql.insert(table).on_conflict_do_nothing()
        else:
            stmt = sqlite.insert(table).on_conflict_do_nothing()
        return stmt.execution_options(preserve_rowcount=True)


def batches(values: Sequence[str]) -> Iterator[list[str]]:
    """`values` without duplicates, in lists of at most BATCH."""
    unique = list(dict.fromkeys(values))
    for i in range(0, len(unique), BATCH):
        yield unique[i : i + BATCH]


def guarded(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
    """Translate backend failures raised by `method` into kaon errors."""

    @wraps(method)
    def wrapper(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._db.guard():
            return method(self, *args, **kwargs)

    return wrapper
