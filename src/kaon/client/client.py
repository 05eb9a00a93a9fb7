"""Client: the Python SDK. Every call of the HTTP API (kaon.client.rest), plus the one way to
do what composes several: put and get files, train, serve, wait, read logs. The CLI only
parses its arguments, calls these and prints.

The examples run as tests (tests/client/test_doctests.py) against a real server, with
`client` connected to it, a workspace `demo`, and in the working directory a source bundle
`code/` (an executable `train` and a requirements.txt), a data bundle `data/` and a serve
bundle `serve/` (a model.py): see docs/user-code.md for what bundles hold."""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, overload

from kaon.client import follow as following
from kaon.client.compare import OutputComparison, compare_outputs
from kaon.client.models import EndpointInfo, JobInfo
from kaon.client.notebooks import NotebooksApi
from kaon.client.pipelines import PipelinesApi
from kaon.client.releases import ReleasesApi
from kaon.client.reporter import QUIET, Reporter
from kaon.client.results import GetResult, PutResult
from kaon.core.errors import InvalidInput, NotFound
from kaon.core.releases import release_name

if TYPE_CHECKING:  # imported when called: `import kaon.client` stays light for the CLI
    from kaon.client.deploy import Bundle, Space
    from kaon.client.jobfiles import JobFiles

LocalPath = str | os.PathLike[str]
_HEX = re.compile(r"^[0-9a-f]+\Z")


def _is_endpoint_name(value: str) -> bool:
    try:
        release_name(value)
    except InvalidInput:
        return False
    return True


class Client(PipelinesApi, ReleasesApi, NotebooksApi):
    """The platform's API as the user whose token it sends. `Client.from_env()` connects to
    `kaon init`'s endpoint (or $KAON_ENDPOINT), else to the local platform (started with the
    first request), as $KAON_TOKEN, else `kaon init --token`'s, else the local platform's
    token (its first admin's); `Client(url, token)` to another. Use it in a `with` block (or
    `close()` it). Pipelines: kaon.client.pipelines; named endpoints' versions and traffic:
    kaon.client.releases; notebooks: kaon.client.notebooks (all mixed in).

    >>> me = client.whoami()
    >>> me.admin, client.health()["status"]
    (True, 'ok')
    """

    # files ---------------------------------------------------------------------------------
    def put(
        self,
        address: str,
        local: LocalPath,
        *,
        recursive: bool = False,
        follow_symlinks: bool = False,
        message: str = "",
        stat_cache: bool = True,
        reporter: Reporter = QUIET,
    ) -> PutResult:
        """Upload a file, or a folder with `recursive`, to `repo@branch:/path` as ONE commit.

        Only the chunks the server lacks are sent; a server on this machine reads big files
        itself; files unchanged since this machine's last put to the branch are not even read
        (`stat_cache`, in $KAON_HOME/cache). An address ending in `/` puts a file under its
        own name. Symbolic links to folders or outside files are refused unless
        `follow_symlinks`.

        >>> _ = client.create_repo("images")
        >>> _ = Path("cat.txt").write_text("meow")
        >>> done = client.put("images@master:/pets/", "cat.txt", message="a cat")
        >>> done.commit.branch, done.commit.count, done.stats.files, done.stats.bytes
        ('master', 1, 1, 4)
        >>> [f.path for f in client.list_files("images", "master", "/pets")]
        ['/pets/cat.txt']
        >>> client.put("images@master:/more", "data", recursive=True).commit.count
        2
        """
        from kaon.client import putget

        return putget.put(
            self,
            address,
            local,
            recursive=recursive,
            follow_symlinks=follow_symlinks,
            message=message,
            cache=stat_cache,
            reporter=reporter,
        )

    def get(
        self,
        address: str,
        dest: LocalPath | None = None,
        *,
        recursive: bool = False,
        reporter: Reporter = QUIET,
    ) -> GetResult:
        """Download the file at `repo@ref:/path` (ref: a branch, a commit id prefix,
        `master^`), or the folder with `recursive`, to `dest` (default: its name, here).
        Files appear complete or not at all (written under a temp name, then renamed).

        >>> client.get("images@master:/pets/cat.txt", "copy.txt").bytes
        4
        >>> Path("copy.txt").read_text()
        'meow'
        >>> got = client.get("images@master:/", "everything", recursive=True)
        >>> got.files, sorted(str(p.relative_to("everything")) for p in got.path.rglob("*.*"))
        (2, ['more/features/x.csv', 'pets/cat.txt'])
        """
        from kaon.client import putget

        return putget.get(self, address, dest, recursive=recursive, reporter=reporter)

    def read(self, address: str) -> bytes:
        """The content of the file at `repo@ref:/path`.

        >>> client.read("images@master:/pets/cat.txt")
        b'meow'
        """
        from kaon.client import putget

        out = io.BytesIO()
        putget.stream(self, address, out)
        return out.getvalue()

    def stream(self, address: str, out: BinaryIO) -> int:
        """Write the content of the file at `repo@ref:/path` to `out` as it comes; its size."""
        from kaon.client import putget

        return putget.stream(self, address, out)

    # training and serving ------------------------------------------------------------------
    def train(
        self,
        workspace: str,
        *,
        source: Bundle | None = None,
        data: Bundle | None = None,
        manifest: LocalPath | None = None,
        allow_local_urls: bool = False,
        hyperparams: Space | None = None,
        search: str = "grid",
        trials: int | None = None,
        objective: str | None = None,
        direction: str = "maximize",
        parallelism: int = 1,
        cpu: float | None = None,
        memory: str | None = None,
        timeout: str | None = None,
        sandbox: bool = False,
        env: Mapping[str, str] | None = None,
        reporter: Reporter = QUIET,
    ) -> JobInfo:
        """Submit a training job to `workspace` (`kaon train deploy`); `wait` for its end.

        `source`, `data`: a local folder (checked, then uploaded: only what changed is sent)
        or an existing bundle (`job.source`); not given: the workspace's latest. `manifest`:
        a JSON-lines file of {"url", "path"} fetched into a data bundle (file:// URLs only
        with `allow_local_urls`). `hyperparams`: {name: [values]} or a JSON file of it,
        searched by `search` (grid, random, optuna; `trials`, `objective`, `direction`).
        `parallelism` trials at once, each with `cpu`, `memory` ("2Gi"), `timeout` ("10m"),
        `sandbox` (no network). `env`: variables for the code (None: the latest deploy's;
        {}: none). Every local input is checked before anything is sent.

        >>> job = client.train("demo", source="code", data="data", hyperparams={"k": [1, 2]})
        >>> job.source.name, job.data.name, job.hyperopt
        ('demo', 'features', True)
        >>> job = client.wait(job)
        >>> job.state == JobState.SUCCESS, [t.metrics["k"] for t in job.trials]
        (True, [1, 2])
        >>> again = client.train("demo", source=job.source, data=job.data)  # no upload
        >>> again.source.path == job.source.path
        True
        """
        from kaon.client import deploy

        hyper = {"search": search, "trials": trials, "objective": objective}
        resources = {
            "parallelism": parallelism,
            "cpu": cpu,
            "memory": memory,
            "timeout": timeout,
            "sandbox": sandbox,
        }
        return deploy.train(
            self,
            workspace,
            source=source,
            data=data,
            manifest=manifest,
            allow_local_urls=allow_local_urls,
            hyper=hyper | {"direction": direction},
            resources=resources,
            env=env,
            hyperparams=hyperparams,
            reporter=reporter,
        )

    def serve(
        self,
        workspace: str,
        *,
        source: Bundle | None = None,
        model_id: str | None = None,
        mlflow: str | Path | None = None,
        replicas: int = 1,
        batch: str | None = None,
        timeout: str | None = None,
        env: Mapping[str, str] | None = None,
        auth: bool = False,
        name: str | None = None,
        version: str | None = None,
        reporter: Reporter = QUIET,
    ) -> EndpointInfo:
        """Deploy an endpoint (`kaon serve deploy`): the serve bundle `source` (a local folder
        with a model.py, or an existing bundle) with the files of `model_id` beside model.py.
        `replicas` processes; `batch` "32/5ms" groups requests; `timeout` per request ("30s");
        `env` for the replicas; `auth`: predictions need a token that may read the
        workspace (default: open). `wait` until it answers.

        `name` (e.g. "petset"; unique on the platform): the endpoint answers at
        `/<name>/...` and gets new versions with `update_endpoint`; its first version is
        labelled `version` (default: the model's data commit prefix) and also answers at
        `/<name>-<version>/...`. The same inputs deployed again to the same name return that
        version; Conflict when the name exists with another version (use `update_endpoint`).
        Without `name`: `serve-<workspace>-<6 hex>`.

        `mlflow` (instead of `source`): a folder with an MLmodel file (an MLflow pyfunc
        model, e.g. saved by `mlflow.sklearn.save_model`), served with no model.py in an
        environment of its own requirements (kaon.client.mlflowbundle). Neither `source`
        nor `mlflow`, only `model_id`: the model's files must hold an MLflow model (a job
        that saved one in its model folder), served the same way.

        >>> model = job.trials[0].model_id
        >>> endpoint = client.wait(client.serve("demo", source="serve", model_id=model))
        >>> endpoint.state == EndpointState.RUNNING
        True
        >>> status, headers, body = client.predict(endpoint.name, b"[1, 2]", "application/json")
        >>> status, json.loads(body)
        (200, {'result': [1, 2]})
        """
        from kaon.client import deploy

        if source is not None and mlflow is not None:
            raise InvalidInput("serve: give a serve bundle (source) or an MLflow model (mlflow)")
        if source is None:  # an MLflow model: a serve bundle made for it, then served
            if mlflow is None and model_id is None:
                raise InvalidInput(
                    "serve: give a serve bundle (source), an MLflow model (mlflow) or the "
                    "model id of an MLflow model a job saved (model_id)"
                )
            from kaon.client.mlflowbundle import make_bundle, model_bundle

            with tempfile.TemporaryDirectory(prefix="kaon-mlflow-") as tmp:
                if mlflow is not None:
                    bundle = make_bundle(Path(mlflow), Path(tmp) / "serve")
                else:
                    assert model_id is not None
                    bundle = model_bundle(self, workspace, model_id, Path(tmp), reporter)
                return self.serve(
                    workspace,
                    source=bundle,
                    model_id=model_id,
                    replicas=replicas,
                    batch=batch,
                    timeout=timeout,
                    env=env,
                    auth=auth,
                    name=name,
                    version=version,
                    reporter=reporter,
                )
        assert source is not None
        settings = {
            "replicas": replicas,
            "batch": batch,
            "timeout": timeout,
            "env": dict(env or {}),
            "auth": auth,
        }
        return deploy.serve(
            self,
            workspace,
            source=source,
            model_id=model_id,
            settings=settings,
            reporter=reporter,
            name=name,
            version=version,
        )

    def reproduce_and_compare(
        self, job: JobInfo | str, timeout: float | None = None, *, reporter: Reporter = QUIET
    ) -> tuple[JobInfo, list[OutputComparison]]:
        """Run a job again from its recorded inputs (`reproduce`), wait for it (at most
        `timeout` seconds) and compare every output file with the original's.

        >>> again, rows = client.reproduce_and_compare(job)
        >>> again.state == JobState.SUCCESS, all(r.identical for r in rows), len(rows) > 0
        (True, True, True)
        """
        original = job if isinstance(job, JobInfo) else self.get_job(job)
        again = self.reproduce(original.id)
        reporter.note(f"Reproducing job {original.id} as job {again.id} …")
        done = self.wait(again, timeout)
        rows = compare_outputs(self.job_outputs(original.id), self.job_outputs(done.id))
        return done, rows

    def download_job(
        self,
        job: JobInfo | str,
        out: LocalPath = ".",
        *,
        code: bool = True,
        data: bool = False,
        models: bool = True,
        model_id: str | None = None,
        reporter: Reporter = QUIET,
    ) -> JobFiles:
        """A job's code, data and models (`model_id`: only those whose id contains it) in
        <out>/<workspace>/<job id>/{code,data,models} (`kaon train get`).

        >>> got = client.download_job(job, "jobs", data=True)
        >>> got.code.name, got.data.name, len(got.models)
        ('code', 'data', 2)
        >>> client.train("demo", source=got.code, data=got.data).source.path == job.source.path
        True
        """
        from kaon.client import jobfiles

        found = job if isinstance(job, JobInfo) else self.get_job(job)
        return jobfiles.download_job(
            self,
            found,
            Path(out),
            code=code,
            data=data,
            models=models,
            model_id=model_id,
            reporter=reporter,
        )

    def download_endpoint(
        self, endpoint: EndpointInfo | str, out: LocalPath = ".", *, reporter: Reporter = QUIET
    ) -> Path:
        """What an endpoint serves (its serve bundle, the model's files beside model.py) in
        <out>/<workspace>/<endpoint>/code/<name>:<hash> (`kaon serve get`); that folder,
        which `serve(source=...)` deploys again.

        >>> served = client.download_endpoint(endpoint, "endpoints")
        >>> sorted(p.name for p in served.rglob("*.*"))
        ['model.py', 'requirements.txt', 'weights.json']
        """
        from kaon.client import jobfiles

        found = endpoint if isinstance(endpoint, EndpointInfo) else self.get_endpoint(endpoint)
        return jobfiles.download_endpoint(self, found, Path(out), reporter)

    # following -----------------------------------------------------------------------------
    @overload
    def wait(self, target: JobInfo, timeout: float | None = None) -> JobInfo: ...
    @overload
    def wait(self, target: EndpointInfo, timeout: float | None = None) -> EndpointInfo: ...
    @overload
    def wait(self, target: str, timeout: float | None = None) -> JobInfo | EndpointInfo: ...
    def wait(
        self, target: JobInfo | EndpointInfo | str, timeout: float | None = None
    ) -> JobInfo | EndpointInfo:
        """Until a job is finished (success, failure, killed) or an endpoint answers, failed
        or was killed; after `timeout` seconds, as it is then (check its `state`). A string
        is a job id (hex), or an endpoint's name (`serve-<workspace>-<hex>`, `petset`,
        `petset-c517ec`).

        >>> client.wait(job.id).state == JobState.SUCCESS
        True
        """
        if isinstance(target, str):
            if _HEX.match(target):
                try:
                    return following.wait_job(self, target, timeout)
                except NotFound:  # a hex-looking endpoint name (`cafe`)
                    if not _is_endpoint_name(target):
                        raise
            return following.wait_endpoint(self, target, timeout)
        if isinstance(target, JobInfo):
            return following.wait_job(self, target.id, timeout)
        return following.wait_endpoint(self, target.name, timeout)

    def logs(
        self,
        target: JobInfo | EndpointInfo,
        *,
        build: bool = False,
        follow: bool = False,
        tail: int | None = None,
    ) -> Iterator[str]:
        """A job's run log (its trials' output, timestamped) or an endpoint's (its replicas'),
        or with `build` how its environment was built; with `follow`, as it grows until the
        job ends or the endpoint is killed; `tail`: from its last that many lines.

        >>> "k=1" in "".join(client.logs(job))
        True
        """
        return following.log_pieces(self, target, build, follow, tail)
