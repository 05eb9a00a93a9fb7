"""install_runtime copies the SDK once per process and root; a removed copy is copied again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kaon.runtime import install
from kaon.runtime.install import install_runtime


def test_the_copy_is_compared_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "runtime"
    assert install_runtime(root) == root
    client = root / "kaon" / "client" / "__init__.py"
    source = Path(install.__file__).resolve().parent.parent / "client" / "__init__.py"
    assert client.read_bytes() == source.read_bytes()
    copies: list[Path] = []
    monkeypatch.setattr(install, "_copy", copies.append)
    assert install_runtime(root) == root  # executor, replicas, notebooks: one comparison
    assert install_runtime(Path(f"{tmp_path}/./runtime")) == Path(f"{tmp_path}/./runtime")
    assert copies == []
    monkeypatch.undo()
    shutil.rmtree(root / "kaon")  # removed while the process runs: copied again
    install_runtime(root)
    assert client.read_bytes() == source.read_bytes()
