"""How the SDK's longer calls (put, get, train, serve) tell what they are doing: a Reporter
gets a progress bar per transfer and a line per step. The default says nothing; the CLI
passes one that draws Rich bars and prints the steps on stderr; a notebook may pass
`Printed()` or its own (any object with these three methods)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

Advance = Callable[[int], None]  # called with the bytes (or files) done since the last call


class Reporter(Protocol):
    def progress(self, description: str, total: int | None) -> AbstractContextManager[Advance]:
        """A transfer of `total` bytes (or files) starts; the context yields advance(n)."""
        ...

    def note(self, message: str) -> None:
        """A step starts ("Submitting source bundle: code")."""
        ...

    def done(self, message: str) -> None:
        """A step succeeded ("Setting source bundle: /mnist:e23a2")."""
        ...


class Quiet:
    """Says nothing (the SDK's default)."""

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Advance]:
        yield lambda n: None

    def note(self, message: str) -> None:
        pass

    def done(self, message: str) -> None:
        pass


class Printed(Quiet):
    """Prints the steps (not the progress) to stderr, as the CLI does."""

    def note(self, message: str) -> None:
        sys.stderr.write(f"{message}\n")

    def done(self, message: str) -> None:
        sys.stderr.write(f"✔ {message}\n")


QUIET = Quiet()
