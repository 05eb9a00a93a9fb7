"""kaon.client's names are imported on first use: the same objects, the table matches the
imports mypy reads, and reaching a submodule does not import the whole SDK."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import kaon.client


def _typed_imports() -> dict[str, tuple[str, str]]:
    """name -> (module, attribute) of the imports under `if TYPE_CHECKING:`."""
    tree = ast.parse(Path(kaon.client.__file__).read_text("utf-8"))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    found: dict[str, tuple[str, str]] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        assert node.module is not None
        for alias in node.names:
            found[alias.asname or alias.name] = (node.module, alias.name)
    return found


def test_the_table_is_the_typed_imports_and_all() -> None:
    assert _typed_imports() == kaon.client._EXPORTS
    assert sorted(kaon.client.__all__) == sorted(kaon.client._EXPORTS)
    assert set(kaon.client.__all__) <= set(dir(kaon.client))


def test_every_name_is_the_defining_modules_object() -> None:
    for name, (module, attr) in kaon.client._EXPORTS.items():
        assert getattr(kaon.client, name) is getattr(importlib.import_module(module), attr)
    from kaon.client import Client
    from kaon.client.client import Client as Defined

    assert Client is Defined


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        kaon.client.NoSuchName  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchName" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("kaon.client.NoSuchName resolved")


def test_a_submodule_does_not_import_the_sdk() -> None:
    code = "import sys, kaon.client.local; print('kaon.client.client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
