"""Output helpers: pachctl-style aligned tables, --json, errors on stderr, progress bars."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from kaon.core.units import human_duration, human_size, time_ago

__all__ = ["emit_json", "human_duration", "human_size", "progress", "table", "time_ago"]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print columns aligned with single spaces between them, like pachctl."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = sys.stdout
    for row in cells:
        out.write(" ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def emit_json(value: Any) -> None:
    def plain(v: Any) -> Any:
        if is_dataclass(v) and not isinstance(v, type):
            return asdict(v)
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    sys.stdout.write(json.dumps(plain(value), indent=2) + "\n")


def now() -> float:
    return time.time()


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Any]:
    """A Rich progress bar on stderr (silent when stderr is not a terminal); yields advance(n)."""
    if not sys.stderr.isatty():  # scripts and CI: skip importing Rich (~0.1 s)
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda n: None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def success(message: str) -> None:
    sys.stderr.write(f"✔ {message}\n")


def boxed(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str = "") -> None:
    """A ruled table like kaos' (PrettyTable, hrules=ALL): cells may span several lines."""
    grid = [[str(c).split("\n") for c in r] for r in [list(headers), *rows]]
    widths = [max(len(line) for r in grid for line in r[i]) for i in range(len(headers))]
    short = len(title) - (sum(widths) + 3 * len(widths) - 3)
    if short > 0:  # a title wider than the columns (an empty table): widen them evenly
        for i in range(short):
            widths[i % len(widths)] += 1
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [rule]
    if title:
        inner = len(rule) - 4
        out += [f"| {title.center(inner)} |", rule]
    for r in grid:
        height = max(len(c) for c in r)
        for k in range(height):
            cells = [(c[k] if k < len(c) else "").center(w) for c, w in zip(r, widths, strict=True)]
            out.append("| " + " | ".join(cells) + " |")
        out.append(rule)
    sys.stdout.write("\n".join(out) + "\n")


def reason_cell(reason: str, width: int = 60, lines: int = 2) -> str:
    """A failure reason for a table cell: its first `lines` non-blank lines, each cut to
    `width` characters (the whole text is in --json and the logs)."""
    kept = [ln.strip() for ln in reason.splitlines() if ln.strip()][:lines]
    return "\n".join(ln if len(ln) <= width else ln[: width - 1] + "…" for ln in kept)


def no_run_log(what: str, state: str, failed: bool, reason: str, build_logs: str) -> None:
    """`logs` of a job or endpoint with an empty run log because it never ran: an error
    (exit 1, like `--wait` of it) if it failed before running, else a note; both point to
    its build log."""
    from kaon.core.errors import KaonError

    if reason and failed:
        why = reason_cell(reason, width=160).replace("\n", " ")
        raise KaonError(f"{what} never ran, so it has no run log: {why} (see `{build_logs}`)")
    info(f"{what} is {state} and has no run log yet: see `{build_logs}`")


def info(message: str) -> None:
    sys.stderr.write(f"{message}\n")


def confirm(question: str) -> None:
    """Ask; anything but yes (or no terminal to ask on) aborts with a clear error (exit 1)."""
    import click

    from kaon.core.errors import KaonError

    try:
        answer = click.confirm(question, default=False)
    except click.exceptions.Abort:
        answer = False
    if not answer:
        raise KaonError("aborted: nothing was changed (pass -y to skip the question)")


def follow_log(pieces: Iterable[str], out: Path | None) -> bool:
    """Print a log as it comes (`Client.logs`); with `out`, also write it there. Returns
    whether there was anything to print."""
    printed = False
    sink = open(out, "w") if out else None  # noqa: SIM115 - closed below
    try:
        for text in pieces:
            sys.stdout.write(text)
            sys.stdout.flush()
            printed = True
            if sink:
                sink.write(text)
    finally:
        if sink:
            sink.close()
    if out:
        info(f"Logs written to {out}")
    return printed


class CliReporter:
    """What the SDK's long calls report, shown as the CLI does: Rich bars on a terminal's
    stderr, steps as lines on stderr (kaon.client.reporter)."""

    def progress(self, description: str, total: int | None) -> AbstractContextManager[Any]:
        return progress(description, total)

    def note(self, message: str) -> None:
        info(message)

    def done(self, message: str) -> None:
        success(message)


REPORTER = CliReporter()
