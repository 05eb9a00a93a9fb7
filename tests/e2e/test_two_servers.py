"""Two `kaon server` processes over one database and one object store (issue 17): what is
uploaded, staged or committed through one is there, at once, through the other."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .servers import Servers


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with Servers(tmp_path_factory.mktemp("two-servers"), 2) as servers:
        yield servers


def test_a_put_through_one_server_is_visible_through_the_other_at_once(
    pair: Servers, tmp_path: Path
) -> None:
    a, b = pair
    a.ok("create", "repo", "shared")
    src = tmp_path / "hello.txt"
    src.write_text("hello from A\n")
    a.ok("put", "file", "shared@master:/hello.txt", "-f", str(src))
    assert b.ok("get", "file", "shared@master:/hello.txt") == "hello from A\n"
    assert pair.urls()[0] != pair.urls()[1]
