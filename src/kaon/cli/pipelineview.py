"""How the pipeline commands print: pachctl's tables (`list pipeline`, `list job`, `list
datum`), `inspect pipeline` / `inspect job` as `Key: value` lines, log lines as text."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import typer

from kaon.cli.output import human_duration, human_size, reason_cell, table, time_ago
from kaon.core.pipelines.records import JobState

if TYPE_CHECKING:
    from kaon.wire import DatumInfo, PipelineInfo, PipelineJobInfo, PipelineLogLine

ID_WIDTH = 12  # ids in tables: a prefix that `inspect job` and friends take back


def short(ident: str | None) -> str:
    return "-" if not ident else ident[:ID_WIDTH]


def _duration(job: PipelineJobInfo) -> str:
    if job.started is None:
        return "-"
    if not JobState(job.state).finished:
        return human_duration(time.time() - job.started)
    return human_duration(job.duration or 0.0)


def pipelines_table(pipelines: list[PipelineInfo]) -> None:
    now = time.time()
    rows = []
    for p in pipelines:
        last = JobState(p.last_job).label if p.last_job else "-"
        state = f"{p.state.value} / {last}"
        rows.append([p.name, p.version, p.input, time_ago(p.created, now), state, p.description])
    table(["NAME", "VERSION", "INPUT", "CREATED", "STATE / LAST JOB", "DESCRIPTION"], rows)


def jobs_table(jobs: list[PipelineJobInfo]) -> None:
    now = time.time()
    table(
        ["ID", "PIPELINE", "STARTED", "DURATION", "RESTART", "PROGRESS", "DL", "UL", "STATE"],
        [
            [
                short(j.id),
                j.pipeline,
                time_ago(j.started or j.created, now),
                _duration(j),
                j.restarts,
                j.progress,
                human_size(j.stats.download_bytes),
                human_size(j.stats.upload_bytes),
                JobState(j.state).label,
            ]
            for j in jobs
        ],
    )


def _files(d: DatumInfo) -> str:
    paths = [f"{f.get('input') or f.get('repo', '')}:{f.get('path', '')}" for f in d.files]
    if len(paths) > 3:
        return ", ".join(paths[:3]) + f", … ({len(paths)} files)"
    return ", ".join(paths) or "-"


def datums_table(datums: list[DatumInfo]) -> None:
    table(
        ["ID", "FILES", "STATUS", "TIME"],
        [
            [short(d.id), _files(d), d.state.value, human_duration(d.seconds) if d.seconds else "-"]
            for d in datums
        ],
    )


def _lines(pairs: list[tuple[str, Any]]) -> None:
    for key, value in pairs:
        typer.echo(f"{key}: {value}")


def show_pipeline(p: PipelineInfo) -> None:
    now = time.time()
    source = f"{p.source_repo}@{p.source_commit}" if p.source_repo else "none"
    env = (
        f"{p.lock_id[:12]} (python {p.python})"
        if p.lock_id
        else f"the platform's python {p.python}"
    )
    pairs: list[tuple[str, Any]] = [
        ("Name", p.name),
        ("Description", p.description or "-"),
        ("Version", p.version),
        ("State", p.state.value),
        ("Last job", JobState(p.last_job).label if p.last_job else "-"),
    ]
    if p.reason:
        pairs.append(("Reason", p.reason))
    pairs += [
        ("Created", time_ago(p.created, now)),
        ("Updated", time_ago(p.updated, now)),
        ("Input", p.input),
        ("Output", f"{p.name}@{p.output_branch}"),
        ("Code", source),
        ("Environment", env),
        ("Salt", p.salt[:12]),
        (
            "Reprocess",
            "yes: datums of older versions run again"
            if p.reprocess
            else "no: datums of older versions kept (updated with --no-reprocess)",
        ),
    ]
    if p.service_url:
        pairs.append(("Service", p.service_url))
    _lines(pairs)
    for w in p.warnings:
        typer.echo(f"Warning: {w}")


def show_job(j: PipelineJobInfo) -> None:
    now = time.time()
    c, s = j.counts, j.stats
    pairs: list[tuple[str, Any]] = [
        ("Job", j.key),
        ("Pipeline", f"{j.pipeline} (version {j.version})"),
        ("State", JobState(j.state).label),
    ]
    if j.reason:
        pairs.append(("Reason", reason_cell(j.reason, width=200, lines=5).replace("\n", " | ")))
    pairs += [
        ("Created", time_ago(j.created, now)),
        ("Started", time_ago(j.started, now) if j.started else "-"),
        ("Duration", _duration(j)),
        (
            "Datums",
            f"{c.processed} processed, {c.skipped} skipped, {c.failed} failed, "
            f"{c.recovered} recovered, {c.total} total",
        ),
        ("Progress", j.progress),
        ("Restarts", j.restarts),
        (
            "Timings",
            f"download {s.download_seconds:.2f}s, process {s.process_seconds:.2f}s, "
            f"upload {s.upload_seconds:.2f}s",
        ),
        (
            "Data",
            f"downloaded {human_size(s.download_bytes)}, uploaded {human_size(s.upload_bytes)}",
        ),
    ]
    for i in j.inputs:
        pairs.append((f"Input {i.name}", f"{i.repo}@{i.commit or '<no commit>'} ({i.branch})"))
    pairs += [
        ("Output commit", f"{j.output_repo}@{j.output_commit}" if j.output_commit else "-"),
        ("Output branch", j.output_branch),
        ("/pfs", j.pfs_mode or "-"),
        ("Reprocessed", "yes: no datum skipped" if j.reprocess else "no"),
        ("Parent job", j.parent or "-"),
    ]
    if j.service:
        pairs.append(("Service", "yes: running while its process serves"))
    _lines(pairs)


def log_text(line: PipelineLogLine) -> str:
    """`ts datum message` (datum "-" for the job's own lines)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(line.ts)) if line.ts else "-"
    return f"{stamp} {short(line.datum) if line.datum else '-'} {line.message}"
