"""What every wire type shares: the documented constraints of names, refs and paths, the
`Answer` base of every answer and `decode`, the SDK's way from JSON to an answer.

Answers are standard-library dataclasses, so that the SDK needs no pydantic to import or
decode them (it costs the CLI ~1 s to import, here, under load); FastAPI builds its pydantic
validators and schemas from the same classes. A field's documentation is its `metadata`
(pydantic reads `description`, `exclude_if`... from there); the two fields whose wire form is
not their Python form (a provenance graph, the audit log's JSON text) carry a codec that both
sides use."""

from __future__ import annotations

import json
import types
import typing
from dataclasses import fields, is_dataclass
from enum import Enum
from functools import cache
from typing import Any, ClassVar, Self, TypeVar

from kaon.core.provenance import Graph

T = TypeVar("T")

# What the server accepts in names, refs and paths (ECMA-262 regexes for the spec). kaon.core
# checks them (ids, jobs, address, paths), with its own messages: the spec only documents them.
REPO = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
BRANCH = REPO  # and not 32 hex digits (a commit id)
WORKSPACE = r"^[A-Za-z0-9][A-Za-z0-9_]{0,39}$"  # lowercased by the server
MODEL = r"^[0-9a-f]{5}_[0-9a-f]{5}(_[0-9a-f]{5})?:[0-9a-f]{6}$"
REF = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}([~^][0-9]{0,6})*$"  # branch or commit prefix, ancestry
PATH = r"^(?!(.*[/\\])?\.\.([/\\].*)?$)[^\x00-\x1f]*$"  # no control character, no '..'
FILE_PATH = r"^(?=.*[^/\\.]|.*\.\.\.)" + PATH[1:]  # and names a file, not the root
DIGEST = r"^[0-9a-f]{64}$"
LEASE = r"^[0-9a-f]{32}$"
LEASE_DOC = (
    "the upload's lease (32 hex digits it chose): gc spares the chunks asked about or sent "
    "under it until it is released or expires (docs/architecture.md)"
)
MEMORY = r"^[0-9]+(\.[0-9]+)?(k|K|M|G|T|Ki|Mi|Gi|Ti)?$"  # 1 byte to 1024Ti
USER = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$"


def doc(description: str) -> dict[str, Any]:
    """An answer field's metadata: its description in the spec (`field(metadata=doc(...))`)."""
    return {"description": description}


class Answer:
    """An answer of the API: a frozen dataclass deriving from this. FastAPI documents and
    serializes it; the SDK decodes it (`from_doc`) and hands it to its callers."""

    __slots__ = ()
    # FastAPI validates what a route returns (a dataclass is not checked when it is made):
    # ints become floats, the audit log's JSON text a dict, as the wire type says.
    __pydantic_config__: ClassVar[dict[str, Any]] = {"revalidate_instances": "always"}

    @classmethod
    def from_doc(cls, doc: Any) -> Self:
        """The answer from its JSON document (fields this version does not know: ignored)."""
        return decode(cls, doc)


# -- codecs: a field whose wire form is not its Python form ----------------------------------


class _Codec:
    """Annotated metadata: `decode` for the SDK, pydantic's hooks for FastAPI."""

    json_schema: dict[str, Any] = {}

    def decode(self, value: Any) -> Any:
        raise NotImplementedError

    def encode(self, value: Any) -> Any:
        raise NotImplementedError

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> dict[str, Any]:
        """pydantic-core's plain validator and serializer, written as the dict that
        `core_schema.no_info_plain_validator_function` builds (no pydantic import here)."""
        return {
            "type": "function-plain",
            "function": {"type": "no-info", "function": self.decode},
            "serialization": {"type": "function-plain", "function": self.encode},
        }

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        return dict(self.json_schema)


class _GraphCodec(_Codec):
    """A provenance graph: {"nodes": [...], "edges": [...]} on the wire, a core Graph here."""

    json_schema = {"type": "object", "additionalProperties": True}

    def decode(self, value: Any) -> Graph:
        return value if isinstance(value, Graph) else Graph.from_dict(value)

    def encode(self, value: Graph) -> dict[str, Any]:
        return value.to_dict()


class _JsonTextCodec(_Codec):
    """A JSON object carried as its text on the wire (the audit log's `detail`), a dict here."""

    json_schema = {"type": "string"}

    def decode(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        try:
            found = json.loads(value or "{}")
        except ValueError:
            return {"text": value}
        return found if isinstance(found, dict) else {"value": found}

    def encode(self, value: dict[str, Any]) -> str:
        return json.dumps(value, separators=(",", ":"))


GRAPH = _GraphCodec()
JSON_TEXT = _JsonTextCodec()


# -- decoding (the SDK's side) ---------------------------------------------------------------


def decode(kind: type[T], doc: Any) -> T:
    """The answer `kind` from its JSON document: nested answers, enums and codecs decoded,
    fields this version does not know ignored."""
    value: T = _decode(kind, doc)
    return value


def decode_list(kind: type[T], docs: Any) -> list[T]:
    """A list of answers from their JSON documents."""
    return [decode(kind, d) for d in docs]


@cache
def _fields(kind: type) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(kind, include_extras=True)
    return tuple((f.name, hints[f.name]) for f in fields(kind) if f.init)


def _decode(kind: Any, value: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(kind)
        codec = next((m for m in meta if isinstance(m, _Codec)), None)
        return codec.decode(value) if codec else _decode(inner, value)
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType):
        return _decode(next(a for a in typing.get_args(kind) if a is not type(None)), value)
    if origin is list:
        (item,) = typing.get_args(kind)
        return [_decode(item, v) for v in value]
    if origin is tuple:
        return tuple(value)
    if isinstance(kind, type) and is_dataclass(kind):
        return kind(**{n: _decode(t, value[n]) for n, t in _fields(kind) if n in value})
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(value)
    if kind is float and isinstance(value, int):
        return float(value)
    return value
