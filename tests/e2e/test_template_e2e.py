"""The shipped `e2e` template through the real CLI on a platform of its own (its pipeline
names are seed 001's, which the `pipelines` template shares): `kaon template get --name e2e`,
its stages up to `model` created from the shipped specs, the first batch committed, one global
id linking the four jobs, then the model stage run again with --reprocess: the same model.pkl,
byte for byte. The stages after
`model` (evaluate, release) are the demo's (`make demo-e2e`); their scripts are checked in
tests/templates/test_template_e2e.py."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import Kaon, wait_final, wait_jobs

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

THROUGH_MODEL = ["warehouse", "transform", "tune", "model"]


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kaon]:
    k = Kaon(tmp_path_factory.mktemp("kaon-e2e-home"))
    try:
        k.up()
        yield k
    finally:
        k.shutdown()


def model_bytes(k: Kaon, commit: str, folder: Path) -> tuple[bytes, dict[str, object]]:
    pkl, info = folder / f"{commit}.pkl", folder / f"{commit}.json"
    k.ok("get", "file", f"model@{commit}:/model.pkl", "-o", str(pkl))
    k.ok("get", "file", f"model@{commit}:/model.json", "-o", str(info))
    return pkl.read_bytes(), json.loads(info.read_text())


def test_e2e_template_through_the_model_stage_reproduces_bit_for_bit(
    own: Kaon, tmp_path: Path
) -> None:
    own.ok("template", "get", "--name", "e2e", "-o", str(tmp_path / "templates"))
    root = tmp_path / "templates" / "e2e"
    docs = (root / "specs.yaml").read_text().split("\n---\n")
    assert len(docs) == 6
    specs = root / "through-model.yaml"  # beside specs.yaml: `source: code` resolves the same
    specs.write_text("\n---\n".join(docs[:4]) + "\n")
    own.ok("repo", "create", "digits")
    own.ok("create", "pipeline", "-f", str(specs))

    own.ok(
        "put", "file", "digits@master:/digits-a.csv", "-f", str(root / "data/stream/digits-a.csv")
    )
    first = own.json("list", "commit", "digits@master")[0]["id"]
    jobs = wait_jobs(own, first, 4)
    assert sorted(jobs) == sorted(THROUGH_MODEL)
    assert {j["state"] for j in jobs.values()} == {"JOB_SUCCESS"}, jobs
    split = tmp_path / "split.json"
    own.ok(
        "get",
        "file",
        f"transform@{jobs['transform']['output_commit']}:/split.json",
        "-o",
        str(split),
    )
    assert sum(json.loads(split.read_text()).values()) == 1200
    hp = tmp_path / "hp.json"
    own.ok("get", "file", "model@master:/optimal_hp.json", "-o", str(hp))
    assert set(json.loads(hp.read_text())) == {"model_arch", "C", "gamma"}

    blob, info = model_bytes(own, jobs["model"]["output_commit"], tmp_path)
    assert info["model_sha256"] == hashlib.sha256(blob).hexdigest()
    assert 800 < info["trained_on"] < 1200  # training + validation of 1,200 images

    rerun = json.loads(own.ok("run", "pipeline", "model", "--reprocess", "--json"))
    done = wait_final(own, "model", rerun["id"])
    assert done["state"] == "JOB_SUCCESS" and done["counts"]["processed"] == 1, done
    assert done["output_commit"] != jobs["model"]["output_commit"]
    blob_again, info_again = model_bytes(own, done["output_commit"], tmp_path)
    assert blob_again == blob and info_again == info  # bit for bit
    trees = [
        own.json("inspect", "commit", f"model@{c}")["tree"]
        for c in (jobs["model"]["output_commit"], done["output_commit"])
    ]
    assert trees[0] == trees[1]
