"""Reading one spec document: where it is (for errors), its warnings, its ignored fields."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar

from kaon.core.errors import InvalidInput
from kaon.core.pipelines import fields

T = TypeVar("T")


class Reader:
    """Reads one document: where it is (for errors), warnings, and the ignored fields."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.said: list[str] = []
        self.ignored: list[str] = []
        self.name = ""

    def fail(self, path: str, message: str) -> NoReturn:
        at = f" (pipeline {self.name!r})" if self.name else ""
        raise InvalidInput(
            f"{self.where}{at}: {path}: {message}" if path else f"{self.where}{at}: {message}"
        )

    def warn(self, message: str) -> None:
        self.said.append(message)

    @property
    def warnings(self) -> list[str]:
        """Each warning, one line, naming the pipeline (known once the document is read)."""
        return [f"pipeline {self.name or '?'}: {m}" for m in self.said]

    def fields(self, value: Any, path: str, kind: str) -> dict[str, Any]:
        """The fields kaon reads of mapping `value` (of `kind`, a key of fields.KNOWN)."""
        if not isinstance(value, Mapping):
            self.fail(path, f"expected a mapping of fields, got {describe_value(value)}")
        known, ignored = fields.KNOWN[kind], fields.IGNORED.get(kind, {})
        out: dict[str, Any] = {}
        for key, item in value.items():
            at = f"{path}.{key}" if path else str(key)
            if key in known:
                if item is not None:  # `field: null` (or an empty YAML value): not set
                    out[key] = item
            elif key in ignored:
                self.ignored.append(at)
                self.warn(f"field '{at}' has no effect here ({ignored[key]}): ignored")
            else:
                close = difflib.get_close_matches(str(key), sorted(known | set(ignored)), n=1)
                hint = (
                    f"did you mean '{close[0]}'?"
                    if close
                    else f"fields here: {', '.join(sorted(known))}"
                )
                self.fail(at, f"unknown field: {hint}")
        return out

    def text(self, value: Any, path: str, *, empty: bool = True) -> str:
        if not isinstance(value, str) or (not empty and not value.strip()):
            self.fail(
                path,
                f"expected a {'non-empty ' if not empty else ''}string, got {describe_value(value)}",
            )
        return value

    def flag(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {describe_value(value)}")
        return value

    def integer(self, value: Any, path: str, *, least: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            self.fail(path, f"expected a whole number ≥ {least}, got {describe_value(value)}")
        return value

    def strings(self, value: Any, path: str, example: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(
                path, f"expected a list of strings, e.g. {example}, got {describe_value(value)}"
            )
        return tuple(value)

    def checked(self, path: str, check: Callable[[Any], T], value: Any) -> T:
        """check(value), its InvalidInput said with where it comes from."""
        try:
            return check(value)
        except InvalidInput as e:
            self.fail(path, str(e))


def describe_value(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
