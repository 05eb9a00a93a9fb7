"""kaon.core.notebooks: names, tokens, and the outputs `save` strips."""

from __future__ import annotations

import json

import pytest

from kaon.core.errors import InvalidInput
from kaon.core.ids import branch_name
from kaon.core.notebooks import (
    default_name,
    new_token,
    notebook_name,
    recovery_branch,
    strip_outputs,
    token_digest,
)


def test_default_name_is_kaos_with_the_user_made_valid() -> None:
    assert default_name("mnist", "j.friedman") == "notebook-mnist-j-friedman"
    assert default_name("a_b", "Root") == "notebook-a-b-root"
    long = default_name("w" * 40, "someone")
    assert len(long) <= 40 and notebook_name(long) == long


@pytest.mark.parametrize("bad", ["v1", "metrics", "-x", "a", "UPPER", "a--b"])
def test_bad_names_say_notebook(bad: str) -> None:
    with pytest.raises(InvalidInput, match="notebook name"):
        notebook_name(bad)


def test_the_recovery_branch_is_a_valid_branch() -> None:
    name = "n" * 40
    assert branch_name(recovery_branch(name)) == recovery_branch(name)
    assert recovery_branch("nb") == "nb-last"


def test_tokens_are_random_and_stored_as_digests() -> None:
    a, b = new_token(), new_token()
    assert a != b and len(a) >= 24
    assert token_digest(a) != a and len(token_digest(a)) == 64


def test_strip_outputs_empties_code_cells_only() -> None:
    doc = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# t"]},
            {
                "cell_type": "code",
                "execution_count": 3,
                "metadata": {"tags": ["x"]},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}],
                "source": ["print(1)"],
            },
        ],
        "metadata": {"kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    out = json.loads(strip_outputs(json.dumps(doc)))
    assert out["cells"][0] == doc["cells"][0]
    assert out["cells"][1]["outputs"] == [] and out["cells"][1]["execution_count"] is None
    assert out["cells"][1]["source"] == ["print(1)"] and out["cells"][1]["metadata"]["tags"]
    assert out["metadata"] == doc["metadata"]


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"no": "cells"}'])
def test_strip_outputs_leaves_other_text_alone(text: str) -> None:
    assert strip_outputs(text) == text
