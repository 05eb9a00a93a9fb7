"""Versions of a pipeline: source bundles locked and prepared (STARTING → RUNNING), salts,
output repos and branches, warnings; a lock that cannot resolve refuses the whole request."""

from __future__ import annotations

from typing import Any

import pytest

from kaon.core.errors import BuildFailed
from kaon.core.pipelines.records import JobState, PipelineState
from kaon.services.pipelines.service import SpecRequest
from kaon.services.pipelines.versions import SOURCE_REPO
from kaon.wiring import Platform


def spec(name: str, repo: str, **more: Any) -> dict[str, Any]:
    return {
        "pipeline": {"name": name},
        "input": {"pfs": {"repo": repo, "glob": "/*"}},
        "transform": {"cmd": ["python3", "main.py"], "source": "./src"},
        **more,
    }


def bundle(platform: Platform, seed, name: str, requirements: str) -> str:  # type: ignore[no-untyped-def]
    """A source bundle as the client uploads it: repo kaon-pipelines, branch = pipeline."""
    if SOURCE_REPO not in {r.name for r in platform.repos.list_repos()}:
        platform.repos.create_repo(SOURCE_REPO)
    files = {
        "/requirements.txt": requirements.encode(),
        "/main.py": (
            b"import os, pathlib, six\n"  # /pfs/out, or where the rewrite fallback puts it
            b"out = pathlib.Path(os.environ.get('PFS_DIR', '/pfs'), 'out')\n"
            b"(out / 'six').write_text(six.__version__)\n"
        ),
    }
    return str(seed.commit(SOURCE_REPO, files, branch=name).id)


def test_a_source_is_locked_prepared_and_versioned(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("raw")
    commit = bundle(platform, seed, "six", "six==1.16.0\n")
    doc = spec(
        "six",
        "raw",
        transform={"cmd": ["python3", "main.py"], "source": "./src", "image": "python:3.11"},
    )
    created = platform.pipelines.create([SpecRequest(doc, SOURCE_REPO, commit)], "alice")
    assert created.pipelines[0].state is PipelineState.STARTING
    assert any("image python:3.11" in w for w in created.warnings)
    version = platform.pipelines.version("six")
    assert (version.source_repo, version.source_commit) == (SOURCE_REPO, commit)
    assert "six==1.16.0" in version.lock and version.lock_id and version.python
    assert version.warnings == tuple(created.warnings)
    assert platform.pipelines.wait_ready("six", 300.0).state is PipelineState.RUNNING
    seed.commit("raw", {"/x": b"x"})
    job = platform.pipelines.jobs("six")[0]
    done = platform.pipelines.wait_job("six", job.id, 300.0)
    assert done.state is JobState.SUCCESS, done.reason
    assert seed.read("six", "master", "/six") == b"1.16.0"


def test_a_requirement_that_cannot_resolve_refuses_the_request(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("raw")
    good = bundle(platform, seed, "good", "")
    bad = bundle(platform, seed, "bad", "nonexistent-pkg-xyz==1.0\n")
    with pytest.raises(BuildFailed, match="nonexistent-pkg-xyz"):
        platform.pipelines.create(
            [
                SpecRequest(spec("good", "raw"), SOURCE_REPO, good),
                SpecRequest(spec("bad", "raw"), SOURCE_REPO, bad),
            ],
            "alice",
        )
    assert platform.pipelines.list() == []
    assert "good" not in {r.name for r in platform.repos.list_repos()}


def test_source_named_but_not_sent_is_refused(platform: Platform) -> None:
    platform.repos.create_repo("raw")
    with pytest.raises(Exception, match="no source bundle was sent"):
        platform.pipelines.create([SpecRequest(spec("p", "raw"))], "alice")


def test_output_repo_and_branch_and_salts(platform: Platform) -> None:
    platform.repos.create_repo("raw")
    doc = {
        "pipeline": {"name": "out"},
        "input": {"pfs": {"repo": "raw", "glob": "/*"}},
        "transform": {"cmd": ["true"]},
        "output_branch": "results",
        "description": "copies",
    }
    (made,) = platform.pipelines.create([SpecRequest(doc)], "alice").pipelines
    assert (made.state, made.description, made.inputs, made.version) == (
        PipelineState.RUNNING,  # no source: the platform's Python, nothing to prepare
        "copies",
        ("raw",),
        1,
    )
    assert [b.name for b in platform.repos.list_branches("out")] == ["results"]
    v1 = platform.pipelines.version("out")
    assert (v1.lock_id, v1.source_commit, v1.author) == ("", None, "alice")
    again = {**doc, "transform": {"cmd": ["true"], "env": {"A": "1"}}}
    platform.pipelines.create([SpecRequest(again)], "bob", update=True)
    v2 = platform.pipelines.version("out")
    assert v2.version == 2 and v2.salt != v1.salt and v2.author == "bob"
    assert platform.pipelines.version("out", 1) == v1
    platform.pipelines.stop("out")
    platform.pipelines.create([SpecRequest(doc)], "bob", update=True)
    assert platform.pipelines.get("out").state is PipelineState.PAUSED  # stays stopped
    assert platform.pipelines.version("out").salt == v1.salt  # same spec, same salt


def test_a_pipeline_left_starting_prepares_again_at_start(
    platform_factory,
    seeder_for,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    home = tmp_path / "starting"
    first = platform_factory(home=home)
    first.repos.create_repo("raw")
    commit = bundle(first, seeder_for(first), "envy", "")
    first.pipelines.create([SpecRequest(spec("envy", "raw"), SOURCE_REPO, commit)], "al")
    ready = first.pipelines.wait_ready("envy", 300.0)
    assert ready.state is PipelineState.RUNNING and first.pipelines.version("envy").lock_id
    store = platform_factory.backends(first).pipelines
    store.update_pipeline(ready.moved(PipelineState.STARTING), None)  # as a crash leaves it
    second = platform_factory(home=home)
    assert second.pipelines.wait_ready("envy", 300.0).state is PipelineState.RUNNING


def test_the_output_branch_exists_once_created_before_any_job(platform: Platform) -> None:
    """A spout (no input: no job sets its branch up) and a pipeline whose update moves its
    output branch: the branch is there, without a commit, when create/update returns, so S3
    writes and `wait commit` can name it at once."""
    platform.repos.create_repo("raw")
    spout = {"pipeline": {"name": "feed"}, "transform": {"cmd": ["sleep", "600"]}, "spout": {}}
    doc = {
        "pipeline": {"name": "out"},
        "input": {"pfs": {"repo": "raw", "glob": "/*"}},
        "transform": {"cmd": ["true"]},
    }
    try:
        platform.pipelines.create([SpecRequest(spout), SpecRequest(doc)], "alice")
        assert [(b.name, b.head) for b in platform.repos.list_branches("feed")] == [
            ("master", None)
        ]
        moved = {**doc, "output_branch": "v2"}
        platform.pipelines.create([SpecRequest(moved)], "alice", update=True)
        assert {b.name for b in platform.repos.list_branches("out")} == {"master", "v2"}
    finally:
        platform.pipelines.stop("feed")
