"""Contract of the UserStore port: users, hashed tokens, roles, the audit log
(kaon.ports.users)."""

from __future__ import annotations

import pytest

from kaon.core.errors import AlreadyExists
from kaon.core.jobs import WorkspaceName
from kaon.core.users import ApiToken, Role, TokenId, User, UserName
from kaon.ports.database import MetadataDatabase
from kaon.ports.users import AuditEntry, AuditQuery, UserStore
from kaon.ports.workspaces import Workspace

A, B = UserName("alice"), UserName("bob")


class UserStoreContract:
    @pytest.fixture
    def store(self, database: MetadataDatabase) -> UserStore:
        """The database's UserStore: users alice (an admin) and bob, workspaces w1 and w2."""
        s = database.users
        s.add_user(User(A, 1.0, admin=True))
        s.add_user(User(B, 2.0))
        for ws in ("w1", "w2"):
            database.workspaces.create_workspace(Workspace(WorkspaceName(ws), 1.0, "alice"))
        return s

    def test_users(self, store: UserStore) -> None:
        assert store.list_users() == [User(A, 1.0, True), User(B, 2.0, False)]
        assert store.get_user("bob") == User(B, 2.0, False)
        assert store.get_user("carol") is None
        with pytest.raises(AlreadyExists):
            store.add_user(User(B, 3.0))

    def test_tokens_are_found_by_digest_only(self, store: UserStore) -> None:
        mine = ApiToken(TokenId("t1"), B, "laptop", 5.0, expires=9.0)
        job = ApiToken(TokenId("t2"), B, "job 01234567", 6.0, workspace="w1", job="j" * 32)
        store.add_token(mine, "d1")
        store.add_token(job, "d2")
        assert store.token_by_digest("d1") == mine
        assert store.token_by_digest("d2") == job
        assert store.token_by_digest("t1") is None
        assert store.list_tokens("bob") == [mine, job]
        assert store.list_tokens("alice") == []
        assert store.delete_job_tokens("j" * 32) == 1
        assert store.delete_token(TokenId("t1")) is True
        assert store.delete_token(TokenId("t1")) is False
        assert store.list_tokens() == []

    def test_tokens_are_listed_oldest_first_and_added_once(self, store: UserStore) -> None:
        late = ApiToken(TokenId("t1"), A, "late", 9.0)
        early = ApiToken(TokenId("t2"), B, "early", 1.0)
        store.add_token(late, "d1")
        store.add_token(early, "d2")
        assert store.list_tokens() == [early, late]
        with pytest.raises(AlreadyExists):
            store.add_token(ApiToken(TokenId("t1"), B, "again", 10.0), "d3")
        assert store.token_by_digest("d3") is None
        assert store.delete_job_tokens("nope") == 0

    def test_roles(self, store: UserStore) -> None:
        store.set_role("w1", B, Role.VIEWER)
        store.set_role("w1", A, Role.OWNER)
        store.set_role("w2", B, Role.EDITOR)
        assert store.role("w1", "bob") is Role.VIEWER
        store.set_role("w1", B, Role.EDITOR)  # a user has one role per workspace
        assert store.members("w1") == [(A, Role.OWNER), (B, Role.EDITOR)]
        assert store.roles_of("bob") == {"w1": Role.EDITOR, "w2": Role.EDITOR}
        assert store.drop_role("w2", "bob") is True
        assert store.drop_role("w2", "bob") is False
        assert store.role("w2", "bob") is None
        assert store.members("w2") == [] and store.roles_of("carol") == {}

    def test_removing_a_user_removes_their_tokens_and_roles(self, store: UserStore) -> None:
        store.add_token(ApiToken(TokenId("t1"), B, "x", 1.0), "d1")
        store.set_role("w1", B, Role.VIEWER)
        assert store.delete_user("bob") is True
        assert store.delete_user("bob") is False
        assert store.token_by_digest("d1") is None
        assert store.members("w1") == []

    def test_audit_newest_first_with_filters(self, store: UserStore) -> None:
        store.record(
            [
                AuditEntry(1.0, "alice", "workspace.create", "w1", "w1", 201),
                AuditEntry(2.0, "bob", "PUT /v1/repos/w1-data/branches/x", "w1-data", "w1", 200),
                AuditEntry(3.0, "alice", "workspace.share", "w1", "w1", 200, '{"user": "bob"}'),
            ]
        )
        store.record([])
        every = store.audit(AuditQuery())
        assert [e.at for e in every] == [3.0, 2.0, 1.0]
        assert every[0].id > every[1].id > every[2].id
        assert every[0].detail == '{"user": "bob"}' and every[1].status == 200
        assert [e.at for e in store.audit(AuditQuery(user="alice"))] == [3.0, 1.0]
        assert [e.at for e in store.audit(AuditQuery(action="share"))] == [3.0]
        assert [e.at for e in store.audit(AuditQuery(since=2.0, until=3.0))] == [2.0]
        assert [e.at for e in store.audit(AuditQuery(workspace="w1", limit=1))] == [3.0]
        assert store.audit(AuditQuery(action="%")) == []  # no LIKE wildcards from users
        assert store.audit(AuditQuery(limit=0)) == []

    def test_audit_for_a_reader_who_is_no_admin(self, store: UserStore) -> None:
        """`viewer`: their own entries and those of the workspaces `owned`, nothing else."""
        store.record(
            [
                AuditEntry(1.0, "alice", "POST /v1/workspaces", "/v1/workspaces", "w1", 201),
                AuditEntry(2.0, "", "POST /v1/repos", "/v1/repos", None, 401),
                AuditEntry(3.0, "", "POST /v1/workspaces/{name}/train", "/x", "w2", 401),
                AuditEntry(4.0, "bob", "POST /v1/repos", "/v1/repos", None, 201),
                AuditEntry(5.0, "bob", "POST /v1/workspaces/{name}/train", "/y", "w1", 404),
            ]
        )
        assert [e.at for e in store.audit(AuditQuery(viewer="bob"))] == [5.0, 4.0]
        owner = AuditQuery(viewer="carol", owned=("w2",))
        assert [e.at for e in store.audit(owner)] == [3.0]
        both = AuditQuery(viewer="bob", owned=("w2",))
        assert [e.at for e in store.audit(both)] == [5.0, 4.0, 3.0]
        assert [e.at for e in store.audit(AuditQuery(viewer="bob", workspace="w1"))] == [5.0]
        assert store.audit(AuditQuery(viewer="bob", user="alice")) == []
