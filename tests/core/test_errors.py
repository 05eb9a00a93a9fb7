"""The error hierarchy: unique wire codes, statuses, exit codes, lookup by code."""

from __future__ import annotations

import pytest

from kaon.core import errors
from kaon.core.errors import KaonError, error_class_for

ALL = errors._all_subclasses(KaonError)


def test_every_error_class_has_a_unique_code() -> None:
    codes = [cls.code for cls in ALL]
    assert len(codes) == len(set(codes)), codes
    assert len(ALL) >= 15


def test_every_public_error_class_is_known() -> None:
    public = {
        obj for obj in vars(errors).values() if isinstance(obj, type) and issubclass(obj, KaonError)
    }
    assert public == set(ALL)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_error_class_for_round_trip(cls: type[KaonError]) -> None:
    assert error_class_for(cls.code) is cls
    err = cls("what failed", key="v")
    again = error_class_for(err.to_dict()["code"])(err.message, **err.details)
    assert type(again) is cls
    assert again.to_dict() == err.to_dict()


def test_unknown_code_is_the_base_class() -> None:
    assert error_class_for("no_such_code") is KaonError
    assert error_class_for("") is KaonError


def test_to_dict_shape() -> None:
    err = errors.MissingChunks("2 chunk(s) are missing", missing=["a", "b"])
    assert err.to_dict() == {
        "code": "missing_chunks",
        "message": "2 chunk(s) are missing",
        "details": {"missing": ["a", "b"]},
    }
    assert str(err) == "2 chunk(s) are missing"


@pytest.mark.parametrize(
    ("cls", "status", "exit_code"),
    [
        (errors.NotFound, 404, 4),
        (errors.RepoNotFound, 404, 4),
        (errors.BranchNotFound, 404, 4),
        (errors.CommitNotFound, 404, 4),
        (errors.PathNotFound, 404, 4),
        (errors.ChunkNotFound, 404, 4),
        (errors.AlreadyExists, 409, 5),
        (errors.Conflict, 409, 5),
        (errors.MissingChunks, 409, 5),
        (errors.InvalidInput, 400, 2),
        (errors.PermissionDenied, 401, 6),
        (errors.StorageFull, 507, 7),
        (errors.BackendUnavailable, 503, 3),
        (errors.CorruptObject, 500, 8),
    ],
)
def test_status_and_exit_codes(cls: type[KaonError], status: int, exit_code: int) -> None:
    assert cls.http_status == status
    assert cls.exit_code == exit_code


def test_subclasses_are_caught_by_their_family() -> None:
    with pytest.raises(errors.NotFound):
        raise errors.RepoNotFound("x")
    with pytest.raises(errors.Conflict):
        raise errors.MissingChunks("x")
