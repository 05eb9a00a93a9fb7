"""Each request and answer shape is written once, in kaon.wire: the spec the server publishes
is made of exactly those types (each schema as pydantic derives it from the type), every route
takes and answers them, no other module defines a pydantic type, and the SDK's models are the
same classes."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import warnings
from collections.abc import Iterable, Iterator
from enum import Enum
from typing import Any, get_args

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter

import kaon
import kaon.client.models as sdk
import kaon.wire as wire
import kaon.wire.requests as requests
from kaon.core.backends import BackendRole
from kaon.core.endpoints import EndpointFailure, EndpointState
from kaon.core.jobs import JobFailure, JobState

REF = "#/components/schemas/{model}"
ENUMS: dict[str, type[Enum]] = {
    "JobState": JobState,
    "EndpointState": EndpointState,
    "JobFailure": JobFailure,
    "EndpointFailure": EndpointFailure,
    "BackendRole": BackendRole,
}


def _wire_type(name: str) -> Any:
    if name == "Error":  # kaon.api.spec's name for it
        return wire.ErrorOut
    return ENUMS.get(name) or getattr(wire, name, None) or getattr(requests, name)


def _own_schema(kind: Any) -> Any:
    mode = "validation" if issubclass(kind, BaseModel) else "serialization"
    schema = TypeAdapter(kind).json_schema(ref_template=REF, mode=mode)
    schema.pop("$defs", None)
    return _shape(schema)


def _shape(schema: Any) -> Any:
    """A schema without its defaults (FastAPI leaves some out): what the type says it is."""
    if isinstance(schema, dict):
        return {k: _shape(v) for k, v in schema.items() if k != "default"}
    if isinstance(schema, list):
        return [_shape(v) for v in schema]
    return schema


def test_the_spec_is_made_of_the_wire_types(api: TestClient) -> None:
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    for name, schema in schemas.items():
        kind = _wire_type(name)
        assert kind.__module__.startswith(("kaon.wire.", "kaon.core.")), name
        assert _shape(schema) == _own_schema(kind), f"{name}: the spec's is not kaon.wire's"
    used = {n for n in schemas if n not in ENUMS and n != "Error"}
    answers = {n for n in wire.__all__ if dataclasses.is_dataclass(getattr(wire, n))}
    assert answers - {"ErrorOut"} <= used, f"wire answers no route gives: {sorted(answers - used)}"


def _classes(annotation: Any) -> list[type]:
    if isinstance(annotation, type):
        return [annotation]
    return [c for arg in get_args(annotation) for c in _classes(arg)]


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)  # an included router (FastAPI 0.16x)
        if inner is not None:
            yield from _api_routes(inner.routes)


def test_every_route_takes_and_answers_wire_types(api: TestClient) -> None:
    routes = list(_api_routes(api.app.routes))  # type: ignore[attr-defined]
    assert len(routes) > 40
    for route in routes:
        kinds = _classes(route.response_model) if route.response_model else []
        kinds += [c for f in route.dependant.body_params for c in _classes(f.field_info.annotation)]
        for kind in kinds:
            if kind.__module__ == "builtins":  # dict[str, object], ...
                continue
            assert kind.__module__.startswith("kaon.wire."), f"{route.path}: {kind}"


def _is_pydantic(cls: type) -> bool:
    return issubclass(cls, BaseModel) or hasattr(cls, "__pydantic_validator__")


def test_no_other_module_defines_a_wire_type() -> None:
    found = []
    for info in pkgutil.walk_packages(kaon.__path__, "kaon."):
        if info.name.endswith("__main__") or info.name.startswith(("kaon.wire", "kaon.runtime")):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # what a module's imports warn about
            module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name and _is_pydantic(cls):
                found.append(f"{info.name}.{cls.__qualname__}")
    assert not found, f"pydantic types outside kaon.wire: {found}"


def test_the_sdk_models_are_the_wire_types() -> None:
    for name in sdk.__all__:
        value = getattr(sdk, name)
        if name in ("TransferStats", "from_json"):  # the SDK's own: no answer of the API
            continue
        assert value is getattr(wire, name), name
