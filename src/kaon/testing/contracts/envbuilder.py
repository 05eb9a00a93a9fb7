"""EnvBuilder contract: what every environment builder does (kaon.ports.envbuilder). A
backend's tests provide the fixture `env_builder`: a fresh builder with an empty cache that can
reach a package index (the suite installs six==1.16.0, a small pure-Python package)."""

from __future__ import annotations

import dataclasses
import subprocess
import threading

import pytest

from kaon.core.errors import BuildFailed, InvalidInput
from kaon.ports.envbuilder import EnvBuilder, Environment

SIX = "six==1.16.0\n"


def _quiet(line: str) -> None:
    """A log sink that keeps nothing."""


def _python(env: Environment, code: str) -> str:
    done = subprocess.run([env.python, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


class EnvBuilderContract:
    """Locks that pin and repeat, environments that import what they locked and are reused,
    resolver failures said in the resolver's words, cancel, forget, altered locks refused."""

    def test_a_lock_pins_and_the_same_requirements_lock_the_same(
        self, env_builder: EnvBuilder
    ) -> None:
        lines: list[str] = []
        lock = env_builder.lock(SIX, lines.append, threading.Event())
        assert "six==1.16.0" in lock.text and lock.python
        assert env_builder.lock(SIX, lines.append, threading.Event()) == lock
        empty = env_builder.lock("", lines.append, threading.Event())
        assert empty.id != lock.id and "six" not in empty.text

    def test_an_environment_has_what_its_lock_pins_and_is_reused(
        self, env_builder: EnvBuilder
    ) -> None:
        lock = env_builder.lock(SIX, _quiet, threading.Event())
        env = env_builder.ensure(lock, _quiet, threading.Event())
        assert env.lock_id == lock.id
        assert _python(env, "import six; print(six.__version__)") == "1.16.0"
        assert env_builder.ensure(lock, _quiet, threading.Event()) == env

    def test_a_requirement_that_cannot_resolve_fails_with_the_resolvers_words(
        self, env_builder: EnvBuilder
    ) -> None:
        lines: list[str] = []
        for _ in range(2):  # a failure is not cached as a lock
            with pytest.raises(BuildFailed) as failed:
                env_builder.lock("nonexistent-pkg-xyz==1.0\n", lines.append, threading.Event())
            assert "nonexistent-pkg-xyz" in failed.value.message
        assert any("nonexistent-pkg-xyz" in line for line in lines)

    def test_cancel_forget_and_altered_locks(self, env_builder: EnvBuilder) -> None:
        lock = env_builder.lock(SIX, _quiet, threading.Event())
        with pytest.raises(InvalidInput):  # a lock whose text is not its id's
            altered = dataclasses.replace(lock, text="six==1.15.0\n")
            env_builder.ensure(altered, _quiet, threading.Event())
        cancel = threading.Event()
        cancel.set()
        with pytest.raises(BuildFailed, match="cancelled"):
            env_builder.ensure(lock, _quiet, cancel)
        env = env_builder.ensure(lock, _quiet, threading.Event())
        assert env_builder.forget(lock.id) is True
        assert env_builder.forget(lock.id) is False
        assert env_builder.ensure(lock, _quiet, threading.Event()) == env  # built again
