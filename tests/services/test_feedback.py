"""Feedback as data (kaon.services.endpointrecord): one file per request id in the
workspace's feedback repo, branch = the release, appended, never overwritten; listed newest
first from the branch head without reading every commit's tree."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kaon.core.address import parse_ref
from kaon.core.endpoints import EndpointState
from kaon.core.errors import Conflict, InvalidInput
from kaon.core.feedback import Feedback, request_of
from kaon.core.provenance import NodeKind
from kaon.services.endpointrun import Route
from kaon.services.files import FileService
from kaon.wiring import Platform

from .test_serving import put, serve_bundle, wait_for


def _deployed(p: Platform, tmp_path: Path) -> Route:
    e = p.serving.deploy("ws", "me", put(p, serve_bundle(tmp_path)), None)
    return Route(e.name, "ws", None, (), None, 30.0)


def _fb(rid: str, reward: float | None = 1.0, version: str = "") -> Feedback:
    return Feedback(
        request_id=rid,
        endpoint="",
        version=version,
        model_id=None,
        received=1.5,
        request={"x": [1, 2]},
        response={"result": [3]},
        reward=reward,
        truth=[3],
    )


def test_each_feedback_is_one_file_of_its_own_commit_never_overwritten(
    platform: Platform, tmp_path: Path
) -> None:
    route = _deployed(platform, tmp_path)
    commits = [platform.serving.feedback(route, _fb(f"req{i}", reward=i)) for i in range(3)]
    assert len(set(commits)) == 3
    head = platform.repos.resolve_required("ws-feedback", parse_ref(route.name))
    assert head.id == commits[-1]
    names = {f.path for f in platform.files.list_files("ws-feedback", parse_ref(route.name), "/")}
    assert names == {"/req0.json", "/req1.json", "/req2.json"}
    assert request_of(head.message) == "req2"
    with pytest.raises(Conflict, match="req1 already has its feedback"):
        platform.serving.feedback(route, _fb("req1", reward=0.0))
    assert platform.repos.resolve_required("ws-feedback", parse_ref(route.name)).id == head.id
    with pytest.raises(InvalidInput, match="invalid request id"):
        platform.serving.feedback(route, _fb("../../etc/passwd"))

    listed = platform.serving.feedbacks(route.name)
    assert [f.request_id for f in listed] == ["req2", "req1", "req0"]
    assert [f.commit for f in listed] == commits[::-1]
    first = listed[-1]
    assert (first.endpoint, first.version, first.reward, first.truth) == (route.name, "1", 0.0, [3])
    assert first.request == {"x": [1, 2]} and first.response == {"result": [3]}
    assert [f.request_id for f in platform.serving.feedbacks(route.name, limit=2)] == [
        "req2",
        "req1",
    ]
    with pytest.raises(InvalidInput, match="limit"):
        platform.serving.feedbacks(route.name, limit=0)


def test_provenance_links_the_version_that_answered(platform: Platform, tmp_path: Path) -> None:
    route = _deployed(platform, tmp_path)
    wait_for(platform, route.name, EndpointState.RUNNING)
    commit = platform.serving.feedback(route, _fb("abc123"))
    graph = platform._backends.provenance.outputs([f"endpoint:{route.name}"], "about")
    (fb,) = [n for n in graph.nodes if n.kind is NodeKind.FEEDBACK]
    assert fb.attrs["commit"] == commit and fb.attrs["version"] == "1"
    assert any(edge.src == f"endpoint:{route.name}" and edge.dst == fb.id for edge in graph.edges)


def test_a_second_feedback_racing_the_first_is_refused(platform: Platform, tmp_path: Path) -> None:
    route = _deployed(platform, tmp_path)
    results: list[str] = []
    start = threading.Barrier(4)

    def send() -> None:
        start.wait()
        try:
            results.append(platform.serving.feedback(route, _fb("same")))
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results).count("conflict") == 3
    assert [f.request_id for f in platform.serving.feedbacks(route.name)] == ["same"]


def test_listing_reads_one_tree_however_long_the_branch(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = _deployed(platform, tmp_path)
    for i in range(60):
        platform.serving.feedback(route, _fb(f"r{i:03d}"))
    roots: list[object] = []
    real = FileService.root

    def counted(self: FileService, commit: object) -> object:
        roots.append(commit)
        return real(self, commit)  # type: ignore[arg-type]

    monkeypatch.setattr(FileService, "root", counted)
    listed = platform.serving.feedbacks(route.name, limit=5)
    assert [f.request_id for f in listed] == ["r059", "r058", "r057", "r056", "r055"]
    assert len(roots) == 1  # the head's tree, not one per commit


def test_commits_made_by_hand_on_the_branch_are_skipped(platform: Platform, tmp_path: Path) -> None:
    from kaon.services.localfs import commit_folder

    route = _deployed(platform, tmp_path)
    platform.serving.feedback(route, _fb("before"))
    note = tmp_path / "note.txt"
    note.write_text("hello")
    commit_folder(
        platform.chunks, platform.commits, "ws-feedback", route.name, [("note.txt", note)]
    )
    platform.serving.feedback(route, _fb("after"))
    assert [f.request_id for f in platform.serving.feedbacks(route.name)] == ["after", "before"]


def test_a_release_lists_every_versions_feedback_a_version_its_own(
    platform: Platform, tmp_path: Path
) -> None:
    platform.serving.deploy(
        "ws", "me", put(platform, serve_bundle(tmp_path)), None, name="petset", version="v1"
    )
    wait_for(platform, "petset-v1", EndpointState.RUNNING)
    platform.serving.update("petset", "me", None, canary=50, version="v2")
    wait_for(platform, "petset-v2", EndpointState.RUNNING)
    v1 = Route("petset-v1", "ws", None, (), None, 30.0, release="petset", version="v1")
    platform.serving.feedback(v1, _fb("a"))
    platform.serving.feedback(v1, _fb("b", version="v2"))  # answered by v2 (a canary, say)
    platform.serving.feedback(v1, _fb("c"))
    head = platform.repos.resolve_required("ws-feedback", parse_ref("petset"))
    assert request_of(head.message) == "c"  # branch = the release, shared by its versions
    every = platform.serving.feedbacks("petset")
    assert [(f.request_id, f.version, f.endpoint) for f in every] == [
        ("c", "v1", "petset"),
        ("b", "v2", "petset"),
        ("a", "v1", "petset"),
    ]
    assert [f.request_id for f in platform.serving.feedbacks("petset-v1")] == ["c", "a"]
    assert [f.request_id for f in platform.serving.feedbacks("petset-v2")] == ["b"]
    about_v2 = platform._backends.provenance.outputs(["endpoint:petset-v2"], "about")
    assert [n.label for n in about_v2.nodes if n.kind is NodeKind.FEEDBACK] == ["b"]


def test_a_feedback_file_rewritten_by_hand_is_read_as_stored(
    platform: Platform, tmp_path: Path
) -> None:
    from kaon.services.localfs import commit_folder

    route = _deployed(platform, tmp_path)
    platform.serving.feedback(route, _fb("kept"))
    platform.serving.feedback(route, _fb("spoilt"))
    bad = tmp_path / "spoilt.json"
    bad.write_text("not json")
    commit_folder(
        platform.chunks, platform.commits, "ws-feedback", route.name, [("spoilt.json", bad)]
    )
    listed = platform.serving.feedbacks(route.name)  # as the gateway stored them
    assert [(f.request_id, f.reward) for f in listed] == [("spoilt", 1.0), ("kept", 1.0)]
    assert listed[0].request == {"x": [1, 2]}
