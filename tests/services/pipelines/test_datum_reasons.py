"""Why a datum failed, in words (kaon.services.pipelines.datumrun): the reason quotes the
user's code, never the platform's own preamble lines, and only a real out-of-memory message
makes it an out-of-memory failure (found from outside: "oom" matched "room")."""

from __future__ import annotations

from kaon.services.pipelines.datumrun import last_words, said_out_of_memory


def test_the_platform_preamble_is_not_the_users_last_words() -> None:
    tail = ["memory limit 256Mi for the datum's processes together (cgroup)"]
    assert last_words(tail) == ""
    tail.append("ValueError: no rows in /pfs/in/a.csv")
    assert last_words(tail) == ": ValueError: no rows in /pfs/in/a.csv"


def test_only_real_out_of_memory_messages_count() -> None:
    for line in ("there is no room left in the queue", "bloom filter built", "zoom 2x"):
        assert not said_out_of_memory([line]), line
    for line in (
        "MemoryError",
        "bash: fork: Cannot allocate memory",
        "CUDA out of memory",
        "Killed (OOM)",
        "oom-kill event in the cgroup",
    ):
        assert said_out_of_memory([line]), line
    assert not said_out_of_memory(
        ["memory limit none: the platform's default memory limit (KAON_JOB_MEMORY)"]
    )
