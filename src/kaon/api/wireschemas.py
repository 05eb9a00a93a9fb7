"""Each kaon.wire answer's pydantic schema, built once before the routes are declared.

FastAPI makes a pydantic TypeAdapter for every route's response model and body; pydantic
re-derives the schema of a standard-library dataclass each time it meets one (155 builds of
57 wire dataclasses over the ~100 routes, ~0.1 s of every server start), while a class that
carries `__pydantic_core_schema__` in its own namespace is reused as it is (what pydantic's
own dataclasses do). `prime()` builds each answer dataclass's schema once and stores it on
the class; the SDK never reads the attribute (it imports no pydantic). The OpenAPI document
and the answers are unchanged (tests/api/test_wire_schemas.py)."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

from pydantic import TypeAdapter

import kaon.wire

SCHEMA = "__pydantic_core_schema__"


def wire_dataclasses() -> list[type]:
    """The dataclasses kaon.wire's modules define (requests are pydantic models already)."""
    found: list[type] = []
    for info in pkgutil.iter_modules(kaon.wire.__path__):
        module = importlib.import_module(f"{kaon.wire.__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and dataclasses.is_dataclass(value)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return found


def prime() -> None:
    """Store each wire dataclass's schema on it (once per process)."""
    for cls in wire_dataclasses():
        if SCHEMA not in cls.__dict__:
            setattr(cls, SCHEMA, TypeAdapter(cls).core_schema)
