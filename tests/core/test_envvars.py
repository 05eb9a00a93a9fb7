"""--env names: anything the platform sets is refused with the reason."""

from __future__ import annotations

import pytest

from kaon.core.envvars import check_variables, parse_pairs, reserved
from kaon.core.errors import InvalidInput


def test_pairs_are_parsed_and_sorted() -> None:
    assert parse_pairs(["B=2", "A=x=y", "EMPTY="]) == {"A": "x=y", "B": "2", "EMPTY": ""}


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("NOEQUALS", "KEY=VALUE"),
        ("1X=1", "variable name"),
        ("A-B=1", "variable name"),
        ("KAON_SEED=1", "KAON_*"),
        ("aws_secret_access_key=1", "AWS_*"),
        ("S3_USE_HTTPS=1", "platform sets S3_USE_HTTPS"),
        ("S3_REGION=eu", "platform sets S3_REGION"),
        ("PYTHONHASHSEED=1", "determinism"),
        ("HOME=/", "platform sets"),
    ],
)
def test_bad_pairs_are_refused_with_the_reason(pair: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("*", r"\*")):
        parse_pairs([pair])


def test_limits() -> None:
    with pytest.raises(InvalidInput, match="twice"):
        parse_pairs(["A=1", "A=2"])
    with pytest.raises(InvalidInput, match="at most"):
        check_variables({f"V{i}": "" for i in range(65)})
    assert reserved("EPOCHS") is None
    assert reserved("S3_REQUEST_TIMEOUT_MSEC") is None  # TensorFlow's, not the platform's
