"""Datums: the unit of work of a pipeline job — the input files one run of the transform sees.

A datum is planned from the job's input commits by `kaon.core.pipelines.planning` (glob, cross,
union, join, group). Its `id` names it by what it reads (input names, repos, branches, paths),
so the same files in the next job have the same id; its `hash` also covers the content of every
file and the pipeline version's salt (spec + code + environment), so an unchanged datum of an
unchanged pipeline has the same hash and is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatumFile:
    """One path a datum sees: /pfs/<input>/<path> is `path` of `commit` in `repo`. A path the
    glob matched may be a directory (everything below it is seen)."""

    input: str  # the input's name (/pfs/<input>)
    repo: str
    branch: str
    commit: str
    path: str  # absolute in the commit, e.g. "/images/1.png"
    digest: str  # the file's content digest, or the directory's tree digest
    size: int
    is_dir: bool = False
    empty: bool = False  # the input has empty_files: the name is seen, not the content


@dataclass(frozen=True)
class Datum:
    id: str  # 64 hex: H(input name, repo, branch, path of each file)
    hash: str  # 64 hex: H(id, every file's digest, salt)
    files: tuple[DatumFile, ...]  # sorted by (input, path)

    @property
    def short(self) -> str:
        return self.id[:12]
