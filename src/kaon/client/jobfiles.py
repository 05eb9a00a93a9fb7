"""What a job or an endpoint was made of, back on local disk, laid out as kaos does:
`<out>/<workspace>/<job id>/{code,data,models}` and `<out>/<workspace>/<endpoint>/code`.
What a job's code and data folders hold deploys again as the same bundles (same ids)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kaon.client.models import BundleInfo, EndpointInfo, JobInfo
from kaon.client.reporter import Reporter
from kaon.client.rest import RestApi
from kaon.core.errors import InvalidInput


@dataclass(frozen=True)
class JobFiles:
    """Where `Client.download_job` wrote: `code` and `data` are the folders to give
    `train(source=..., data=...)` (or `-s`/`-d`) to train on the same bundles again."""

    root: Path
    code: Path | None = None
    data: Path | None = None
    models: list[Path] = field(default_factory=list)


def _bundle_dir(api: RestApi, b: BundleInfo) -> tuple[str, str, bool]:
    """(path inside the bundle, local folder name, whether the bundle has one top folder)
    for the kaos layout `<name>:<hash>`."""
    files = api.list_files(b.repo, b.commit, "/")
    visible = [f for f in files if not f.path.rsplit("/", 1)[-1].startswith(".")]
    single = len(visible) == 1 and visible[0].type == "dir"
    inner = visible[0].path if single else "/"
    return inner, f"{b.name}:{b.digest[:5]}", single


def _fetch(
    api: RestApi, repo: str, ref: str, path: str, dest: Path, label: str, reporter: Reporter
) -> int:
    from kaon.client import download  # when called: `import kaon.client` stays light

    size = api.stat(repo, ref, path).size
    with reporter.progress(f"Extracting {label}", size) as advance:
        files, _ = download.get_dir(api, repo, ref, path, dest, advance)
    return files


def download_job(
    api: RestApi,
    job: JobInfo,
    out: Path,
    *,
    code: bool,
    data: bool,
    models: bool,
    model_id: str | None,
    reporter: Reporter,
) -> JobFiles:
    from kaon.client import bundles

    root = out / job.workspace / job.id
    reporter.note(f"Extracting train bundle: {root}")
    code_dir = data_dir = None
    written: list[Path] = []
    if code:
        inner, name, single = _bundle_dir(api, job.source)
        dest = root / "code" / name
        _fetch(api, job.source.repo, job.source.commit, inner, dest, "code", reporter)
        bundles.restore_modes(dest)
        code_dir = dest.parent if single else dest
    if data and job.data.files:
        inner, name, single = _bundle_dir(api, job.data)
        dest = root / "data" / name
        _fetch(api, job.data.repo, job.data.commit, inner, dest, "data", reporter)
        data_dir = dest.parent if single else dest
    elif data:
        reporter.note(
            "No data bundle to extract: the job read its data over S3 (see `kaon train info`)"
        )
    if models:
        done = [t for t in job.trials if t.model_id and t.model_commit and t.model_path]
        if model_id:
            done = [t for t in done if t.model_id and model_id in t.model_id]
        if not done:
            reporter.note("No model to extract: the job produced none (see `kaon train info`)")
        repo = f"{job.workspace}-models"
        for t in done:
            assert t.model_commit and t.model_path
            dest = root / "models" / t.model_path.strip("/")
            _fetch(api, repo, t.model_commit, t.model_path, dest, f"model {t.model_id}", reporter)
            written.append(dest)
    return JobFiles(root, code_dir, data_dir, written)


def download_endpoint(api: RestApi, e: EndpointInfo, out: Path, reporter: Reporter) -> Path:
    """The serve bundle with the model's files as served, in
    <out>/<workspace>/<endpoint>/code/<name>:<hash>; that folder."""
    from kaon.client import bundles, download

    if not e.served_commit:
        raise InvalidInput(f"endpoint {e.name} has not been built yet: see `kaon serve list`")
    repo = f"{e.workspace}-endpoints"
    files = api.list_files(repo, e.served_commit, "/")
    inner = files[0].path if len(files) == 1 and files[0].type == "dir" else "/"
    dest = out / e.workspace / e.name / "code" / f"{e.source.name}:{e.source.digest[:5]}"
    reporter.note(f"Extracting serve bundle: {out / e.workspace / e.name}")
    size = api.stat(repo, e.served_commit, inner).size
    with reporter.progress("Extracting serve bundle", size) as advance:
        download.get_dir(api, repo, e.served_commit, inner, dest, advance)
    bundles.restore_modes(dest)
    return dest
