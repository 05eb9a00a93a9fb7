"""Every metadata port's contract suite (kaon.testing), on memory, SQLite and PostgreSQL: the
`database` fixture of conftest.py gives each test a fresh database of each backend."""

from kaon.testing.contracts import *  # noqa: F403 - the suites, as pytest test classes
