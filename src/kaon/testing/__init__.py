"""Contract suites for kaon's ports, for any backend (pytest needed).

Every suite is a class of pytest tests over one port; each test takes a fixture named
`database` that yields a fresh, empty MetadataDatabase (kaon.ports.database). A backend
runs them all from its own test module::

    import pytest
    from kaon.testing.contracts import *  # noqa: F403 - the Test... classes

    @pytest.fixture
    def database():
        db = MyDatabase(...)  # fresh and empty, for one test
        yield db
        db.close()

or subclasses just the suites of the ports it implements (`class TestMyJobs(JobStoreContract):
pass`). kaon runs them on memory, SQLite and PostgreSQL (tests/contract).

An object store backend subclasses kaon.testing.contracts.objects.ObjectStoreContract and
provides a fixture `object_store` yielding a fresh, empty ObjectStore instead. The execution
ports have theirs too: kaon.testing.contracts.executor.ExecutorContract (fixtures `executor`,
`env_builder`, `trees`, `task_folder`), .replicas.ReplicasContract (`replicas`, `serve_code`,
`serve_env`), .drop.DropFolderContract (`drop_folder`), .content.ContentContract (`content`,
`trees`) and .envbuilder.EnvBuilderContract (`env_builder`); each module's doc says what its
fixtures hold (kaon runs them in tests/contract/test_execution_contracts.py and tests/exec/test_uv.py).
"""
