"""`Client.create_pipelines`: spec files parsed first (kaon.core.pipelines.parse: a bad spec,
or two documents of one name in any of the files, fails before anything is sent), then each
spec's `transform.source` folder uploaded as ONE commit to repo `kaon-pipelines` on the branch
named after the pipeline (the branch then holds exactly that folder, like a source bundle),
then every spec sent in one request (all or none)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kaon.client.localfiles import plan
from kaon.client.putget import stat_cache
from kaon.client.reporter import Reporter
from kaon.client.upload import Uploader
from kaon.core.errors import AlreadyExists, InvalidInput, NotFound
from kaon.core.pipelines.parse import parse_specs, spec_doc
from kaon.core.pipelines.spec import PipelineSpec
from kaon.wire import PipelinesCreated

if TYPE_CHECKING:
    from kaon.client.pipelines import PipelinesApi

SOURCES_REPO = "kaon-pipelines"


def read_specs(files: Sequence[Path]) -> list[tuple[PipelineSpec, Path]]:
    """Every spec of every file, with the file it came from (all checked before any upload)."""
    if not files:
        raise InvalidInput("no spec file given: pass -f <specs.yaml> (JSON or YAML)")
    found: list[tuple[PipelineSpec, Path]] = []
    where: dict[str, Path] = {}
    for path in files:
        if not path.is_file():
            raise InvalidInput(f"spec file {path}: no such file")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"spec file {path}: not UTF-8 text (JSON or YAML)") from None
        for spec in parse_specs(text, str(path)).specs:
            if spec.name in where:
                raise InvalidInput(
                    f"pipeline {spec.name!r} is defined in {where[spec.name]} and in {path}: "
                    "keep one"
                )
            where[spec.name] = path
            source = _source_folder(spec, path)
            if source is not None:
                _check_source(spec, source)
            found.append((spec, path))
    return found


def _source_folder(spec: PipelineSpec, file: Path) -> Path | None:
    if not spec.transform.source:
        return None
    return (file.parent / spec.transform.source).resolve()


def _check_source(spec: PipelineSpec, folder: Path) -> None:
    what = f"pipeline {spec.name}: transform.source {spec.transform.source!r} ({folder})"
    if not folder.exists():
        raise InvalidInput(f"{what}: no such folder (it is relative to the spec file)")
    if not folder.is_dir():
        raise InvalidInput(f"{what}: not a folder (give the folder of its code)")
    if not any(p.is_file() for p in folder.rglob("*")):
        raise InvalidInput(f"{what} is empty: it needs its code (and a requirements.txt)")


def _ensure_repo(api: PipelinesApi) -> None:
    try:
        api.get_repo(SOURCES_REPO)
    except NotFound:
        with contextlib.suppress(AlreadyExists):  # made meanwhile by another client
            api.create_repo(SOURCES_REPO, "the code of pipelines (transform.source)")


def create(
    api: PipelinesApi,
    files: Sequence[Path],
    *,
    update: bool,
    reprocess: bool,
    reporter: Reporter,
) -> PipelinesCreated:
    specs = read_specs(files)
    bodies: list[dict[str, Any]] = []
    uploads = [(s, f, folder) for s, f in specs if (folder := _source_folder(s, f)) is not None]
    commits: dict[str, str] = {}
    if uploads:
        _ensure_repo(api)
        cache = stat_cache()
        try:
            for spec, _, folder in uploads:
                files_of = plan(folder, "/", True)
                total = sum(f.key.size for f in files_of)
                with reporter.progress(f"Uploading the source of {spec.name}", total) as advance:
                    commit, _ = Uploader(api, cache, advance).put(
                        SOURCES_REPO,
                        spec.name,
                        files_of,
                        f"source of pipeline {spec.name}: {folder.name}",
                        replace=True,
                    )
                commits[spec.name] = commit.id
                reporter.note(f"Source of {spec.name}: {SOURCES_REPO}@{commit.id[:12]} ({folder})")
        finally:
            cache.close()
    for spec, _ in specs:
        source = None
        if spec.name in commits:
            source = {"repo": SOURCES_REPO, "commit": commits[spec.name]}
        bodies.append({"spec": spec_doc(spec), "source": source})
    return api.send_pipelines(bodies, update=update, reprocess=reprocess)
