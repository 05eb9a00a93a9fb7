"""Contract of the CredentialStore port: S3 keys, the user they act for and the workspace a
job's key is narrowed to (kaon.ports.credentials)."""

from __future__ import annotations

import pytest

from kaon.core.credentials import new_credential
from kaon.core.errors import AlreadyExists
from kaon.ports.credentials import CredentialStore
from kaon.ports.database import MetadataDatabase

KEY = bytes(range(32))  # the sealing key (secret.key); any 32 bytes


class CredentialStoreContract:
    @pytest.fixture
    def store(self, database: MetadataDatabase) -> CredentialStore:
        return database.credentials(KEY)

    def test_keys_keep_their_user_and_workspace(self, store: CredentialStore) -> None:
        user = new_credential("me", 1.0, user="alice")
        job = new_credential("job 0123abcd (me)", 2.0, "0123abcd" * 4, "w", "bob")
        legacy = new_credential("old", 3.0)  # a key from before users: of no user
        for c in (user, job, legacy):
            store.add_credential(c)
        assert store.get_credential(user.access_key) == user
        assert store.get_credential(job.access_key) == job
        assert store.get_credential(legacy.access_key) == legacy
        listed = store.list_credentials()
        assert [(c.user, c.workspace) for c in listed] == [
            ("alice", None),
            ("bob", "w"),
            (None, None),
        ]
        assert [c.scope for c in listed] == ["*", "workspace:w", "*"]

    def test_job_keys_are_revoked_together(self, store: CredentialStore) -> None:
        job = "0123abcd" * 4
        store.add_credential(new_credential("job", 1.0, job, "w"))
        store.add_credential(new_credential("job", 2.0, job, "w"))
        kept = new_credential("me", 3.0)
        store.add_credential(kept)
        assert store.delete_job_credentials(job) == 2
        assert store.list_credentials() == [kept]
        assert store.get_credential("KAONNOSUCHKEY0000000") is None
        assert store.delete_job_credentials(job) == 0

    def test_keys_are_listed_oldest_first_and_deleted_one_by_one(
        self, store: CredentialStore
    ) -> None:
        keys = [new_credential("me", t) for t in (3.0, 1.0, 2.0)]
        for key in keys:
            store.add_credential(key)
        assert store.list_credentials() == [keys[1], keys[2], keys[0]]
        assert store.delete_credential(keys[1].access_key) is True
        assert store.delete_credential(keys[1].access_key) is False
        assert store.get_credential(keys[1].access_key) is None
        assert store.list_credentials() == [keys[2], keys[0]]

    def test_a_key_is_added_once(self, store: CredentialStore) -> None:
        key = new_credential("me", 1.0)
        store.add_credential(key)
        with pytest.raises(AlreadyExists):
            store.add_credential(key)
        assert store.list_credentials() == [key]
