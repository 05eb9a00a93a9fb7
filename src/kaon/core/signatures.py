"""A served model's signature: what it takes and answers, as the Open Inference Protocol's model
metadata lists them ({name, datatype, shape}; -1 = any size). Declared by a serve bundle (a
`signature.json` beside model.py; `kaon serve deploy --mlflow` writes it from the MLmodel's
signature) or learned from a version's first successful OIP request; stored per endpoint
version so every server of a platform, and a restarted one, answers the same metadata."""

from __future__ import annotations

from typing import Any

from kaon.core.errors import InvalidBundle

SIGNATURE_FILE = "signature.json"
DATATYPES = (
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
)
_LISTS = ("inputs", "outputs")


def checked(doc: Any, where: str) -> dict[str, Any]:
    """`doc` as a signature {"inputs": [...], "outputs": [...], "parameters"?: {...}};
    InvalidBundle saying what is wrong in `where` otherwise."""
    if not isinstance(doc, dict):
        raise InvalidBundle(f'{where}: expected {{"inputs": [...], "outputs": [...]}}')
    out: dict[str, Any] = {}
    for key in _LISTS:
        items = doc.get(key, [])
        if not isinstance(items, list):
            raise InvalidBundle(f"{where}: {key} must be a list of {{name, datatype, shape}}")
        for i, item in enumerate(items):
            at = f"{where}: {key}[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise InvalidBundle(f"{at} needs a name")
            if item.get("datatype") not in DATATYPES:
                raise InvalidBundle(
                    f"{at}.datatype {item.get('datatype')!r} is not one of {', '.join(DATATYPES)}"
                )
            shape = item.get("shape")
            if not isinstance(shape, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n >= -1 for n in shape
            ):
                raise InvalidBundle(f"{at}.shape must be a list of integers (-1: any size)")
        out[key] = [dict(item) for item in items]
    params = doc.get("parameters")
    if params is not None:
        if not isinstance(params, dict):
            raise InvalidBundle(f"{where}: parameters must be an object")
        out["parameters"] = dict(params)
    return out
