"""What every wire type shares: request bodies (`Strict`), answers (`answer`), the documented
constraints of names, refs and paths, and `decode` (the SDK's way from JSON to an answer)."""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    TypeAdapter,
    WithJsonSchema,
)

from kaon.core.provenance import Graph

T = TypeVar("T")

# What the server accepts in names, refs and paths (ECMA-262 regexes for the spec). kaon.core
# checks them (ids, jobs, address, paths), with its own messages: `checked()` only documents.
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


def checked(default: Any = ..., description: str | None = None, **schema: Any) -> Any:
    """A field whose constraints (`schema`, JSON Schema) kaon.core checks: documented here."""
    return Field(default, description=description, json_schema_extra=schema)


class Strict(BaseModel):
    """A request body: a field the server does not know is refused (400), never ignored."""

    model_config = ConfigDict(extra="forbid")


class Answer:
    """An answer: a frozen pydantic dataclass deriving from this (`@dataclass(frozen=True)`
    of pydantic). FastAPI documents and serializes it as it is; the SDK decodes it
    (`from_doc`) and hands it to its callers."""

    __slots__ = ()

    @classmethod
    def from_doc(cls, doc: Any) -> Self:
        """The answer from its JSON document (fields this version does not know: ignored)."""
        return decode(cls, doc)


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def decode(kind: type[T], doc: Any) -> T:
    """An answer from its JSON document (fields this version does not know are ignored)."""
    value: T = _adapter(kind).validate_python(doc)  # type: ignore[arg-type]
    return value


def decode_list(kind: type[T], docs: Any) -> list[T]:
    """A list of answers from their JSON documents."""
    value: list[T] = _adapter(list[kind]).validate_python(docs)  # type: ignore[valid-type]
    return value


def _graph(value: Any) -> Graph:
    return value if isinstance(value, Graph) else Graph.from_dict(value)


# A provenance graph: {"nodes": [...], "edges": [...]} on the wire, a kaon.core Graph in Python.
GraphJson = Annotated[
    Graph,
    PlainValidator(_graph),
    PlainSerializer(lambda g: g.to_dict(), return_type=dict[str, Any]),
    WithJsonSchema({"type": "object", "additionalProperties": True}),
]


def _detail(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        found = json.loads(value or "{}")
    except ValueError:
        return {"text": value}
    return found if isinstance(found, dict) else {"value": found}


# A JSON object carried as its text on the wire (the audit log's `detail`), a dict in Python.
JsonText = Annotated[
    dict[str, Any],
    BeforeValidator(_detail),
    PlainSerializer(lambda d: json.dumps(d, separators=(",", ":")), return_type=str),
    WithJsonSchema({"type": "string"}),
]
