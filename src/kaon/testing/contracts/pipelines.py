"""Contract of the PipelineStore port: pipelines and their versions, pipeline jobs, datum
records and the skip lookup (kaon.ports.pipelines)."""

from __future__ import annotations

import dataclasses

import pytest

from kaon.core.errors import AlreadyExists, InvalidInput
from kaon.core.ids import RepoName
from kaon.core.pipelines.records import (
    DatumCounts,
    DatumState,
    JobState,
    JobStats,
    PipelineState,
)
from kaon.core.repo import Repo
from kaon.ports.database import MetadataDatabase
from kaon.ports.pipelines import PipelineStore
from kaon.testing.pipeline_samples import datum, digest, gid, job, pipeline, version


class PipelineStoreContract:
    @pytest.fixture
    def store(self, database: MetadataDatabase) -> PipelineStore:
        return database.pipelines

    # -- pipelines and versions ------------------------------------------------------------

    def test_pipelines_and_versions_round_trip_exactly(self, store: PipelineStore) -> None:
        p, v = pipeline(), version()
        store.add_pipeline(p, v)
        assert store.get_pipeline("edges") == p
        assert store.get_version("edges", 1) == v
        assert store.get_version("edges", 1).spec == v.spec  # type: ignore[union-attr]
        assert store.list_versions("edges") == [v]
        assert store.get_pipeline("nope") is None
        assert store.get_version("edges", 2) is None and store.get_version("nope", 1) is None
        assert store.list_versions("nope") == []

    def test_a_taken_name_is_already_exists_and_changes_nothing(self, store: PipelineStore) -> None:
        store.add_pipeline(pipeline(), version())
        with pytest.raises(AlreadyExists, match="edges"):
            store.add_pipeline(pipeline(description="other"), version(author="other"))
        assert store.get_pipeline("edges") == pipeline()
        assert store.list_versions("edges") == [version()]

    def test_a_version_must_be_the_pipelines_current_one(self, store: PipelineStore) -> None:
        with pytest.raises(InvalidInput):
            store.add_pipeline(pipeline(), version(number=2))
        with pytest.raises(InvalidInput):
            store.add_pipeline(pipeline(), version("other"))
        assert store.list_pipelines() == []
        store.add_pipeline(pipeline(), version())
        with pytest.raises(InvalidInput):
            store.update_pipeline(pipeline(version=2), version(number=3))
        assert store.get_pipeline("edges") == pipeline()

    def test_update_with_and_without_a_version(self, store: PipelineStore) -> None:
        store.add_pipeline(pipeline(), version())
        second = pipeline(version=2, updated=9.0, reason="updated")
        store.update_pipeline(second, version(number=2, reprocess=False))
        assert store.get_pipeline("edges") == second
        assert store.list_versions("edges") == [version(), version(number=2, reprocess=False)]
        paused = second.moved(PipelineState.PAUSED, "stopped by me")
        store.update_pipeline(paused, None)
        assert store.get_pipeline("edges") == paused
        assert len(store.list_versions("edges")) == 2
        with pytest.raises(AlreadyExists):  # version 2 is stored
            store.update_pipeline(second, version(number=2))
        assert store.get_pipeline("edges") == paused

    def test_updating_an_unknown_pipeline_is_ignored(self, store: PipelineStore) -> None:
        store.update_pipeline(pipeline("ghost", 2), version("ghost", 2))
        store.update_pipeline(pipeline("ghost"), None)
        assert store.get_pipeline("ghost") is None and store.list_pipelines() == []
        assert store.list_versions("ghost") == []

    def test_list_pipelines_by_name(self, store: PipelineStore) -> None:
        for name in ("train", "edges", "split"):
            store.add_pipeline(pipeline(name), version(name))
        assert [p.name for p in store.list_pipelines()] == ["edges", "split", "train"]

    def test_delete_removes_versions_jobs_and_datums(self, store: PipelineStore) -> None:
        for name in ("edges", "other"):
            store.add_pipeline(pipeline(name), version(name))
            store.update_pipeline(pipeline(name, 2), version(name, 2))
            store.add_job(job(1, name))
            store.save_datums([datum(n, name=name) for n in range(3)])
        store.delete_pipeline("edges")
        store.delete_pipeline("nope")  # unknown: ignored
        assert store.get_pipeline("edges") is None
        assert store.list_versions("edges") == [] and store.get_version("edges", 1) is None
        assert store.get_job("edges", gid(1)) is None and store.list_jobs("edges") == []
        assert store.list_datums("edges", gid(1)) == []
        assert store.succeeded("edges", [digest(0, "b")]) == {}
        assert store.find_jobs(gid(1)) == [gid(1)]  # the other pipeline's
        assert [p.name for p in store.list_pipelines()] == ["other"]
        assert len(store.list_versions("other")) == 2
        assert len(store.list_datums("other", gid(1))) == 3
        store.add_pipeline(pipeline(), version())  # the name is free again, with nothing
        assert store.list_jobs("edges") == [] and store.list_datums("edges", gid(1)) == []

    def test_pipelines_outlive_a_repo_of_their_name(self, database: MetadataDatabase) -> None:
        """No link to repos: deleting the output repo leaves the pipeline's records."""
        store = database.pipelines
        database.metadata.create_repo(Repo(RepoName("edges"), 1.0))
        store.add_pipeline(pipeline(), version())
        store.add_job(job(1))
        database.metadata.delete_repo(RepoName("edges"))
        assert store.get_pipeline("edges") == pipeline()
        assert store.get_job("edges", gid(1)) == job(1)

    # -- jobs ------------------------------------------------------------------------------

    def test_jobs_round_trip_exactly(self, store: PipelineStore) -> None:
        j = job(1)
        store.add_job(j)
        assert store.get_job("edges", gid(1)) == j
        done = (
            j.moved(JobState.STARTING, started=3.5)
            .moved(JobState.RUNNING)
            .moved(JobState.FINISHING)
            .moved(
                JobState.SUCCESS,
                finished=7.75,
                output_commit="f" * 32,
                counts=DatumCounts(10, 6, 3, 1, 0),
                stats=JobStats(100, 20, 0.5, 1.5, 0.25),
                restarts=2,
                pfs_mode="rewrite",
                parent=gid(0),
            )
        )
        store.save_job(done)
        assert store.get_job("edges", gid(1)) == done
        assert store.get_job("edges", gid(2)) is None and store.get_job("nope", gid(1)) is None

    def test_a_job_key_is_pipeline_and_id(self, store: PipelineStore) -> None:
        store.add_job(job(1))
        with pytest.raises(AlreadyExists, match=f"edges@{gid(1)}"):
            store.add_job(job(1, state=JobState.RUNNING))
        assert store.get_job("edges", gid(1)) == job(1)
        store.add_job(job(1, "train"))  # one global id, two pipelines
        assert store.get_job("train", gid(1)) == job(1, "train")

    def test_saving_an_unknown_job_is_ignored(self, store: PipelineStore) -> None:
        store.add_job(job(1))
        store.save_job(job(2, state=JobState.RUNNING))
        store.save_job(job(1, "train", JobState.RUNNING))
        assert store.get_job("edges", gid(2)) is None and store.get_job("train", gid(1)) is None
        assert store.list_jobs() == [job(1)]

    def test_list_jobs_newest_first_with_filters(self, store: PipelineStore) -> None:
        made = [
            job(1, "edges", JobState.SUCCESS),
            job(2, "edges", JobState.FAILURE),
            job(2, "train", JobState.UNRUNNABLE),
            job(3, "train", JobState.RUNNING),
            job(4, "split", JobState.RUNNING, created=3.0),  # ties: by pipeline
        ]
        for j in reversed(made):
            store.add_job(j)
        keys = [j.key for j in store.list_jobs()]
        assert keys == [
            f"split@{gid(4)}",
            f"train@{gid(3)}",
            f"edges@{gid(2)}",
            f"train@{gid(2)}",
            f"edges@{gid(1)}",
        ]
        assert [j.id for j in store.list_jobs("edges")] == [gid(2), gid(1)]
        assert [j.pipeline for j in store.list_jobs(global_id=gid(2))] == ["edges", "train"]
        assert store.list_jobs("train", gid(2)) == [made[2]]
        running = store.list_jobs(states=[JobState.RUNNING, JobState.SUCCESS])
        assert [j.key for j in running] == [f"split@{gid(4)}", f"train@{gid(3)}", made[0].key]
        assert store.list_jobs("edges", states=[JobState.RUNNING]) == []
        assert [j.key for j in store.list_jobs(limit=2)] == keys[:2]
        assert [j.key for j in store.list_jobs("edges", limit=1)] == [f"edges@{gid(2)}"]
        assert store.list_jobs(limit=0) == []
        assert store.list_jobs("nope") == [] and store.list_jobs(global_id=gid(9)) == []

    def test_find_jobs_by_prefix(self, store: PipelineStore) -> None:
        for n, name in ((0x1A, "edges"), (0x1A, "train"), (0x1B, "edges"), (0x2A, "train")):
            store.add_job(job(n, name))
        assert store.find_jobs(gid(0x1A)) == [gid(0x1A)]  # one id, two pipelines: once
        assert store.find_jobs("001", limit=5) == [gid(0x1A), gid(0x1B)]  # sorted
        assert store.find_jobs("00") == [gid(0x1A), gid(0x1B)]  # at most 2 by default
        assert store.find_jobs("00", limit=1) == [gid(0x1A)]
        assert store.find_jobs("00", "train", limit=5) == [gid(0x1A), gid(0x2A)]
        assert store.find_jobs("001b", "train") == []
        assert store.find_jobs("00", "nope") == []
        for bad in ("", "001A", "xyz", "00%", "0_", "g"):
            assert store.find_jobs(bad, limit=5) == [], bad

    # -- datum records ---------------------------------------------------------------------

    def test_datums_round_trip_and_are_listed_by_id(self, store: PipelineStore) -> None:
        records = [datum(n) for n in (5, 3, 9)]
        records[0] = dataclasses.replace(
            records[0], reason="exit 1", reused_from=gid(0), download_bytes=7, upload_bytes=9
        )
        store.save_datums(records)
        store.save_datums([datum(1, job_n=2), datum(2, name="other")])
        assert store.list_datums("edges", gid(1)) == sorted(records, key=lambda r: r.id)
        assert store.list_datums("edges", gid(2)) == [datum(1, job_n=2)]
        assert store.list_datums("edges", gid(3)) == [] and store.list_datums("x", gid(1)) == []
        store.save_datums([])

    def test_save_datums_inserts_or_replaces(self, store: PipelineStore) -> None:
        pending = [datum(n, state=DatumState.PENDING, output=None) for n in range(4)]
        store.save_datums(pending)
        done = [
            datum(0),
            datum(1, state=DatumState.FAILED, output=None),
            datum(2, state=DatumState.SKIPPED, hash_n=7),
            datum(4, state=DatumState.RECOVERED, output=None),
        ]
        store.save_datums(done)
        assert store.list_datums("edges", gid(1)) == [*done[:3], pending[3], done[3]]
        # a key twice in one call: the last one wins
        store.save_datums([datum(3, state=DatumState.RUNNING, output=None), datum(3)])
        assert store.list_datums("edges", gid(1))[3] == datum(3)
        assert store.succeeded("edges", [digest(2, "b")]) == {}  # its old hash is gone
        assert store.succeeded("edges", [digest(7, "b")]) == {digest(7, "b"): done[2]}

    def test_list_datums_filtered_by_states(self, store: PipelineStore) -> None:
        states = list(DatumState)
        store.save_datums([datum(n, state=s) for n, s in enumerate(states)])
        failed = store.list_datums("edges", gid(1), [DatumState.FAILED])
        assert [d.state for d in failed] == [DatumState.FAILED]
        ended = store.list_datums("edges", gid(1), [DatumState.SKIPPED, DatumState.SUCCESS])
        assert [d.id for d in ended] == [digest(2), digest(3)]
        assert len(store.list_datums("edges", gid(1), ())) == len(states)

    def test_succeeded_is_the_newest_reusable_record_by_hash(self, store: PipelineStore) -> None:
        store.add_job(job(1))
        store.add_job(job(2, created=5.0))
        store.add_job(job(3))  # created at 3, before job 2
        store.add_job(job(1, "other"))
        first = datum(0, job_n=1, output="1" * 64)
        newest = dataclasses.replace(
            datum(0, job_n=2, state=DatumState.SKIPPED, output="2" * 64), reused_from=gid(1)
        )
        store.save_datums(
            [
                first,
                newest,
                datum(0, job_n=3, output="3" * 64),
                datum(1, job_n=1, state=DatumState.FAILED),  # failed: never reused
                datum(2, job_n=1, state=DatumState.RECOVERED),
                datum(3, job_n=1, output=None),  # no known output
                datum(4, job_n=1, state=DatumState.PENDING),
                datum(5, job_n=1, state=DatumState.RUNNING),
                datum(6, job_n=1, name="other"),  # another pipeline's
                datum(7, job_n=1, hash_n=8),  # asked by another hash
            ]
        )
        asked = [digest(n, "b") for n in (0, 0, 1, 2, 3, 4, 5, 6, 7, 9)]
        assert store.succeeded("edges", asked) == {digest(0, "b"): newest}
        assert store.succeeded("edges", []) == {}
        assert store.succeeded("other", asked) == {digest(6, "b"): datum(6, name="other")}
        assert store.succeeded("nope", asked) == {}

    def test_reusable_outputs_are_what_succeeded_may_return(self, store: PipelineStore) -> None:
        assert store.reusable_outputs() == set()
        store.add_job(job(1))
        store.add_job(job(2, created=5.0))
        store.add_job(job(1, "other"))
        store.save_datums(
            [
                datum(0, job_n=1, output="1" * 64),  # older than job 2's record of the hash
                datum(0, job_n=2, state=DatumState.SKIPPED, output="2" * 64),
                datum(1, job_n=1, state=DatumState.FAILED, output="3" * 64),
                datum(2, job_n=1, state=DatumState.RECOVERED, output="4" * 64),
                datum(3, job_n=1, output=None),
                datum(6, job_n=1, name="other", output="5" * 64),
            ]
        )
        assert store.reusable_outputs() == {"2" * 64, "5" * 64}
        store.delete_pipeline("other")
        assert store.reusable_outputs() == {"2" * 64}

    def test_succeeded_after_a_later_failure_keeps_the_success(self, store: PipelineStore) -> None:
        store.add_job(job(1))
        store.add_job(job(2))
        store.save_datums([datum(0, job_n=1)])
        store.save_datums([datum(0, job_n=2, state=DatumState.FAILED, output=None)])
        assert store.succeeded("edges", [digest(0, "b")]) == {digest(0, "b"): datum(0)}

    def test_succeeded_when_the_newest_record_is_no_longer_reusable(
        self, store: PipelineStore
    ) -> None:
        for n in (1, 2, 3):
            store.add_job(job(n))
        old, newer, newest = (datum(0, job_n=n, output=str(n) * 64) for n in (1, 2, 3))
        store.save_datums([old])
        store.save_datums([newest])
        store.save_datums([newer])  # saved later, of an older job
        h = digest(0, "b")
        assert store.succeeded("edges", [h]) == {h: newest}
        store.save_datums([dataclasses.replace(newest, state=DatumState.FAILED, output=None)])
        assert store.succeeded("edges", [h]) == {h: newer}
        moved = dataclasses.replace(newer, hash=digest(5, "b"))
        store.save_datums([moved])  # its hash changed
        assert store.succeeded("edges", [h, digest(5, "b")]) == {h: old, digest(5, "b"): moved}
        store.save_datums([dataclasses.replace(old, output=None)])
        assert store.succeeded("edges", [h]) == {}
        store.save_datums([newest])
        assert store.succeeded("edges", [h]) == {h: newest}

    def test_succeeded_ties_go_to_the_greatest_job_id(self, store: PipelineStore) -> None:
        store.add_job(job(2, created=1.0))
        store.add_job(job(1))
        store.save_datums([datum(0, job_n=2), datum(0, job_n=1)])
        assert store.succeeded("edges", [digest(0, "b")])[digest(0, "b")].job == gid(2)

    def test_succeeded_counts_a_record_saved_before_its_job_as_oldest(
        self, store: PipelineStore
    ) -> None:
        store.save_datums([datum(0, job_n=9)])  # job 9 is not stored (yet)
        store.add_job(job(9))
        store.add_job(job(1))
        store.save_datums([datum(0, job_n=1)])
        assert store.succeeded("edges", [digest(0, "b")])[digest(0, "b")].job == gid(1)

    def test_a_thousand_datums_saved_and_looked_up_at_once(self, store: PipelineStore) -> None:
        store.add_job(job(1))
        records = [
            datum(n, state=DatumState.SUCCESS if n % 2 else DatumState.FAILED) for n in range(1200)
        ]
        store.save_datums(records)
        found = store.succeeded("edges", [r.hash for r in records])
        assert len(found) == 600
        assert found == {r.hash: r for r in records if r.state is DatumState.SUCCESS}
        assert len(store.list_datums("edges", gid(1))) == 1200
