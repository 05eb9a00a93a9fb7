"""User environment variables of jobs and endpoints (`--env KEY=VALUE`), checked so that none
overrides what the platform sets: its own KAON_* values, the S3 key pair and endpoint (AWS_*,
and TensorFlow's S3_ENDPOINT, S3_USE_HTTPS, S3_VERIFY_SSL, S3_REGION), the interpreter and the
determinism settings. Other S3_* names (TensorFlow's S3_REQUEST_TIMEOUT_MSEC, as seed 004's
manifest sets) are the user's. They are recorded with the job or
endpoint, since they may change what it computes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from kaon.core.errors import InvalidInput

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
MAX_VARIABLES = 64
MAX_VALUE = 8192
_PREFIXES = {
    "KAON_": "kaon's own job settings",
    "AWS_": "the S3 gateway's endpoint and the job's own key pair",
}
_NAMES = {
    **dict.fromkeys(
        ("S3_ENDPOINT", "S3_USE_HTTPS", "S3_VERIFY_SSL", "S3_REGION"),
        "the S3 gateway's address for TensorFlow's S3 reader",
    ),
    **dict.fromkeys(("PATH", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"), "the environment"),
    **dict.fromkeys(("HOME", "TMPDIR", "LANG", "LC_ALL"), "the job's private folders and locale"),
    **dict.fromkeys(
        (
            "PYTHONHASHSEED",
            "PYTHONUNBUFFERED",
            "PYTHONDONTWRITEBYTECODE",
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "NUMEXPR_NUM_THREADS",
        ),
        "the recorded determinism settings",
    ),
}


def reserved(name: str) -> str | None:
    """What the platform sets under `name`, or None when a user may set it."""
    upper = name.upper()
    for prefix, what in _PREFIXES.items():
        if upper.startswith(prefix):
            return f"{prefix}* ({what})"
    named = _NAMES.get(upper)
    return None if named is None else f"{upper} ({named})"


def check_variables(values: Mapping[str, str]) -> dict[str, str]:
    """The variables, each name checked; InvalidInput naming the first bad one."""
    if len(values) > MAX_VARIABLES:
        raise InvalidInput(f"--env: at most {MAX_VARIABLES} variables ({len(values)} given)")
    for name, value in values.items():
        if not _NAME.match(name):
            raise InvalidInput(
                f"--env {name!r}: a variable name is letters, digits and _, not starting "
                "with a digit (e.g. --env INPUT_BUCKET=master.inputrepo)"
            )
        what = reserved(name)
        if what is not None:
            raise InvalidInput(
                f"--env {name}: the platform sets {what} for every job and endpoint; "
                "choose another name"
            )
        if len(value) > MAX_VALUE or "\0" in value:
            raise InvalidInput(f"--env {name}: values are at most {MAX_VALUE} characters, no NUL")
    return dict(sorted(values.items()))


def parse_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """`KEY=VALUE` strings (the CLI's repeated --env) as checked variables."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInput(f"--env {pair!r}: expected KEY=VALUE, e.g. --env EPOCHS=3")
        if name in out:
            raise InvalidInput(f"--env {name} is given twice: give each variable once")
        out[name] = value
    return check_variables(out)
