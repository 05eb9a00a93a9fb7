"""The wire answers' schemas stored before the routes are declared are pydantic's own."""

from __future__ import annotations

import json
import subprocess
import sys

from pydantic import TypeAdapter

import kaon.api.routes  # noqa: F401 - primes the schemas
from kaon.api.wireschemas import SCHEMA, wire_dataclasses

UNPRIMED = """
import json
from pydantic import TypeAdapter
from kaon.api.wireschemas import wire_dataclasses
print(json.dumps({
    f"{c.__module__}.{c.__qualname__}": [
        TypeAdapter(c).json_schema(mode="serialization"),
        TypeAdapter(c).json_schema(mode="validation"),
    ] for c in wire_dataclasses()
}, sort_keys=True))
"""


def test_every_wire_answer_is_primed_with_pydantics_own_schema() -> None:
    classes = wire_dataclasses()
    assert len(classes) >= 57  # the answers the routes name
    assert all(SCHEMA in cls.__dict__ for cls in classes)
    primed = {
        f"{c.__module__}.{c.__qualname__}": [
            TypeAdapter(c).json_schema(mode="serialization"),
            TypeAdapter(c).json_schema(mode="validation"),
        ]
        for c in classes
    }
    out = subprocess.run(
        [sys.executable, "-c", UNPRIMED], capture_output=True, text=True, check=True
    ).stdout
    assert json.dumps(primed, sort_keys=True) == out.strip()
