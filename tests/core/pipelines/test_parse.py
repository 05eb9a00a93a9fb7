"""Spec files → PipelineSpecs: Pachyderm's format, warnings, errors, the canonical document."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from kaon.core.errors import InvalidInput
from kaon.core.pipelines.inputs import shorthand
from kaon.core.pipelines.parse import parse_spec, parse_specs, spec_doc
from kaon.core.pipelines.spec import (
    Combine,
    CombinedInput,
    CronInput,
    PfsInput,
    Reprocess,
    Resources,
    Service,
    Spout,
)

# issue 15's own example, verbatim
ISSUE_SPEC = """\
input:
  cross:
    - pfs: {repo: transform, glob: "/"}
    - pfs: {repo: tune, glob: "/optimal_hp.json"}
pipeline: {name: model}
transform:
  cmd: ["/bin/bash"]
  stdin:
    - "python train.py --input /pfs/transform --hyperparam_fn_path /pfs/tune/optimal_hp.json --output /pfs/out"
    - "ln -s /pfs/tune/optimal_hp.json /pfs/out/optimal_hp.json"
  image: suneetamall/e2e-ml-on-k8s:1
datum_tries: 2
resource_requests: {memory: 2G}
"""

# the e2e project's specs as pachyderm.md §3.2 describes them, in its file's layout: a leading
# and a trailing `---`, comments, a spout, crosses, empty_files, pod_spec as a JSON string,
# a service, folded multi-line stdin strings
E2E_SPECS = """\
---
pipeline:
  name: stream
transform:
  image: suneetamall/pykubectl:1.14.7
  cmd:
  - "/bin/bash"
  stdin:
  - "wget -O images.tar.gz https://example.org/images.tar.gz && \\
     tar -cvf data.tar.gz *.tar.gz && \\
     cat data.tar.gz > /pfs/out && \\
     while :; do sleep 2073600; done"
spout:
  overwrite: true
---
input:
  pfs:
    glob: /
    repo: stream
pipeline:
  name: warehouse
transform:
  cmd:
  - "/bin/bash"
  image: suneetamall/e2e-ml-on-k8s:1
  stdin:
  - "python download_petset.py --input /pfs/stream/ --output /pfs/out"
datum_tries: 2
#standby: true
---
input:
  pfs:
    glob: "/"
    repo: transform
pipeline:
  name: tune
transform:
  cmd:
  - "/bin/bash"
  image: suneetamall/e2e-ml-on-k8s:1
  stdin:
  - "python tune.py --input /pfs/transform --output /pfs/out"
resource_requests:
  memory: 4G
  cpu: 1
#  gpu:
#    type: nvidia.com/gpu
#    number: 1
datum_tries: 2
---
input:
  cross:
    - pfs:
       glob: "/calibration"
       repo: transform
    - pfs:
        glob: "/model.h5"
        repo: model
pipeline:
  name: calibrate
transform:
  cmd:
  - "/bin/bash"
  image: suneetamall/e2e-ml-on-k8s:1
  stdin:
  - "python calibrate.py --input /pfs/transform --model_weight /pfs/model/model.h5
     --output /pfs/out"
  - "ln -s /pfs/model/model.h5 /pfs/out/model.h5"
datum_tries: 2
---
input:
  pfs:
    glob: "/"
    empty_files: true
    repo: transform
pipeline:
  name: tune-kf
transform:
  cmd:
  - "/bin/bash"
  image: suneetamall/e2e-ml-on-k8s:1
  stdin:
  - "python tune_katib.py --input /pfs/transform --output /pfs/out"
pod_spec: '{"serviceAccount": "ml-user", "serviceAccountName": "ml-user"}'
datum_tries: 2
---
input:
  pfs:
    glob: "/"
    repo: evaluate
pipeline:
  name: release
transform:
  cmd:
  - "/bin/bash"
  image: suneetamall/e2e-ml-on-k8s:1
  stdin:
  - "python release.py --model_db evaluate --input /pfs/evaluate/evaluation_result.csv --version ${evaluate_COMMIT}"
pod_spec: '{"serviceAccount": "ml-user", "serviceAccountName": "ml-user"}'
datum_tries: 2
#standby: true
---
## Service
input:
  pfs:
    glob: "/"
    repo: model
pipeline:
  name: tensorboard
service:
  external_port: 30888
  internal_port: 6006
transform:
  cmd:
  - "/bin/bash"
  stdin:
  - tensorboard --logdir=/pfs/model/
  image: suneetamall/e2e-ml-on-k8s:1
---
"""


def base(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "pipeline": {"name": "p"},
        "transform": {"cmd": ["python3", "main.py"]},
        "input": {"pfs": {"repo": "images", "glob": "/*"}},
    }
    doc.update(extra)
    return doc


def error(doc: dict[str, Any]) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_spec(doc, "specs.yaml, document 2")
    return str(caught.value)


def test_the_issue_spec_parses_with_the_image_warning_only() -> None:
    parsed = parse_specs(ISSUE_SPEC, "model.yaml")
    (spec,) = parsed.specs
    assert spec.name == "model"
    assert spec.datum_tries == 2
    assert spec.requests.memory == 2_000_000_000
    assert spec.input == CombinedInput(
        Combine.CROSS,
        (
            PfsInput(repo="transform", name="transform"),
            PfsInput(repo="tune", name="tune", glob="/optimal_hp.json"),
        ),
    )
    assert spec.transform.stdin[1] == "ln -s /pfs/tune/optimal_hp.json /pfs/out/optimal_hp.json"
    assert parsed.warnings == [
        "pipeline model: image suneetamall/e2e-ml-on-k8s:1 cannot be pulled here (no container "
        "runtime): the transform runs with the platform's Python; add transform.source: "
        "<folder with requirements.txt>"
    ]


def test_the_e2e_specs_parse_with_warnings_only() -> None:
    parsed = parse_specs(E2E_SPECS, "pachyderm-specs.yaml")
    names = [s.name for s in parsed.specs]
    assert names == [
        "stream",
        "warehouse",
        "tune",
        "calibrate",
        "tune-kf",
        "release",
        "tensorboard",
    ]
    by = {s.name: s for s in parsed.specs}
    assert by["stream"].spout == Spout(overwrite=True) and by["stream"].input is None
    assert by["stream"].transform.stdin[0].startswith("wget -O images.tar.gz")
    assert by["tune"].requests == Resources(cpu=1.0, memory=4_000_000_000)
    assert by["tune-kf"].input == PfsInput(repo="transform", name="transform", empty_files=True)
    assert by["tune-kf"].ignored == ("pod_spec",)
    assert by["tensorboard"].service == Service(internal_port=6006, external_port=30888)
    assert (
        "pipeline release: field 'pod_spec' has no effect here (no Kubernetes): ignored"
        in parsed.warnings
    )
    assert sum("cannot be pulled" in w for w in parsed.warnings) == 7
    assert len(parsed.warnings) == 9
    for spec in parsed.specs:
        assert parse_spec(spec_doc(spec), "again")[0] == spec


def test_json_with_several_concatenated_objects_and_a_list() -> None:
    one = json.dumps(base())
    two = json.dumps(base(pipeline={"name": "q"}))
    assert [s.name for s in parse_specs(one + "\n" + two, "s.json").specs] == ["p", "q"]
    assert [s.name for s in parse_specs(f"[{one}, {two}]", "s.json").specs] == ["p", "q"]


def test_two_documents_of_one_name_are_refused_naming_both() -> None:
    text = json.dumps(base()) + json.dumps(base())
    with pytest.raises(InvalidInput, match=r"s.json: documents 1 and 2 both define pipeline 'p'"):
        parse_specs(text, "s.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pipeline: [", r"bad.yaml: invalid YAML at line 1"),
        ('{"pipeline": ', r"bad.yaml: invalid JSON at line 1"),
        ("---\n---\n", r"bad.yaml: no pipeline spec in it"),
        ("- a\n- b\n", r"bad.yaml: a pipeline spec is a mapping"),
    ],
)
def test_unreadable_files(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_specs(text, "bad.yaml")


def test_an_unknown_field_is_named_with_where_and_a_did_you_mean() -> None:
    message = error(base(datum_trys=2))
    assert message.startswith("specs.yaml, document 2 (pipeline 'p'): datum_trys: unknown field")
    assert "did you mean 'datum_tries'?" in message
    message = error(base(transform={"cmd": ["a"], "stdn": ["x"]}))
    assert "transform.stdn: unknown field: did you mean 'stdin'?" in message
    message = error(base(input={"cross": [{"pfs": {"repo": "a", "glob": "/", "globb": "/"}}]}))
    assert "input.cross[0].pfs.globb: unknown field: did you mean 'glob'?" in message


def test_known_pachyderm_fields_warn_once_each_and_round_trip() -> None:
    doc = base(
        standby=True,
        pod_patch="[]",
        pipeline={"name": "p", "project": {"name": "default"}},
        transform={"cmd": ["a"], "user": "root"},
        input={
            "cross": [
                {"pfs": {"repo": "a", "glob": "/", "s3": True}},
                {"pfs": {"repo": "b", "glob": "/"}},
            ]
        },
    )
    spec, warnings = parse_spec(doc, "s.yaml")
    assert spec.ignored == (
        "input.cross[0].pfs.s3",
        "pipeline.project",
        "pod_patch",
        "standby",
        "transform.user",
    )
    assert len(warnings) == 5
    assert all(w.startswith("pipeline p: field '") and w.endswith(": ignored") for w in warnings)
    again, warned = parse_spec(spec_doc(spec), "s.yaml")
    assert again == spec and len(warned) == 5


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"transform": {"cmd": ["a"]}}, r"^pipeline: missing"),
        (base(pipeline={}), r"pipeline.name: missing"),
        (base(pipeline={"name": "bad name"}), r"pipeline.name: invalid repo name 'bad name'"),
        (base(transform={"stdin": ["x"]}), r"transform.cmd: missing: add e.g."),
        (base(transform={"cmd": []}), r"transform.cmd: empty"),
        (base(transform={"cmd": "python3 main.py"}), r"transform.cmd: expected a list of strings"),
        (base(transform=None), r"transform: missing"),
        ({"pipeline": {"name": "p"}, "transform": {"cmd": ["a"]}}, r"input: missing: add e.g."),
        (
            base(input={"pfs": {"repo": "a", "glob": "/"}, "cron": {}}),
            r"input: one input object holds one kind, not cron and pfs",
        ),
        (base(input={"cross": []}), r"input.cross: expected a list of at least one input"),
        (base(input={"union": {}}), r"input.union: expected a list of at least one input"),
        (base(input={"pfs": {"glob": "/"}}), r"input.pfs.repo: missing"),
        (base(input={"pfs": {"repo": "a"}}), r"input.pfs.glob: missing: add glob"),
        (base(input={"pfs": {"repo": "a", "glob": "/[a"}}), r"input.pfs.glob: invalid glob"),
        (
            base(
                input={
                    "cross": [
                        {"pfs": {"repo": "a", "glob": "/"}},
                        {"pfs": {"repo": "a", "glob": "/*"}},
                    ]
                }
            ),
            r"input.cross: inputs 0 and 1 are both named 'a' \(/pfs/a\): give them distinct `name`s",
        ),
        (base(input={"pfs": {"repo": "out", "glob": "/"}}), r"'out' is where the pipeline writes"),
        (
            base(
                input={
                    "join": [
                        {"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1"}},
                        {"pfs": {"repo": "b", "glob": "/(*)"}},
                    ]
                }
            ),
            r"input.join\[1\].pfs.join_on: missing: every input of a join needs join_on",
        ),
        (
            base(input={"join": [{"pfs": {"repo": "a", "glob": "/*", "join_on": "$1"}}]}),
            r"input.join\[0\].pfs.join_on: \$1 names no capture group: the glob has 0",
        ),
        (
            base(input={"group": [{"pfs": {"repo": "a", "glob": "/(*)"}}]}),
            r"group_by: missing: every input of a group",
        ),
        (
            base(input={"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1"}}),
            r"input.pfs.join_on: only has an effect in a join",
        ),
        (
            base(input={"join": [{"cross": [{"pfs": {"repo": "a", "glob": "/"}}]}]}),
            r"input.join: a join's inputs are pfs inputs",
        ),
        (base(input={"git": {"URL": "x"}}), r"input.git: git inputs are not supported"),
        (base(input={"cron": {"name": "tick"}}), r"input.cron.spec: missing"),
        (
            base(input={"cron": {"name": "tick", "spec": "every hour"}}),
            r"input.cron.spec: invalid cron spec",
        ),
        (base(datum_tries=0), r"datum_tries: expected a whole number ≥ 1, got 0"),
        (base(datum_timeout="soon"), r"datum_timeout: invalid duration 'soon'"),
        (base(job_timeout=30), r'job_timeout: expected a duration such as "30s"'),
        (
            base(resource_limits={"memory": "lots"}),
            r"resource_limits.memory: invalid memory 'lots'",
        ),
        (base(resource_requests={"cpu": "x"}), r"resource_requests.cpu: invalid cpu 'x'"),
        (
            base(resource_requests={"gpu": {"type": "nvidia.com/gpu", "count": 1}}),
            r"resource_requests.gpu.count: unknown field",
        ),
        (
            base(reprocess_spec="always"),
            r"reprocess_spec: expected one of until_success, every_job",
        ),
        (
            base(parallelism_spec={"constant": 2, "coefficient": 1}),
            r"parallelism_spec: set constant or coefficient, not both",
        ),
        (base(service={"external_port": 80}), r"service.internal_port: missing"),
        (
            base(service={"internal_port": 70000}),
            r"service.internal_port: expected a port from 1 to 65535",
        ),
        (base(spout={}), r"input: a spout has no input"),
        (base(output_branch="a b"), r"output_branch: invalid branch name"),
        (
            base(transform={"cmd": ["a"], "env": {"A B": "1"}}),
            r"transform.env.A B: invalid variable name",
        ),
    ],
)
def test_bad_specs_say_where_and_what(doc: dict[str, Any], message: str) -> None:
    text = error(doc)
    assert text.startswith("specs.yaml, document 2")
    assert re.search(message, text.split(": ", 1)[1]) or re.search(message, text), text


def test_every_field_round_trips_through_the_canonical_document() -> None:
    doc = base(
        description="all of it",
        transform={
            "cmd": ["python3", "main.py"],
            "stdin": ["x"],
            "env": {"B": "2", "A": 1, "C": True},
            "working_dir": "/code",
            "accept_return_code": [2, 3],
            "err_cmd": ["/bin/bash"],
            "err_stdin": ["exit 0"],
            "image": "img:1",
            "source": "./code",
            "datum_batching": True,
        },
        input={
            "union": [
                {
                    "cron": {
                        "name": "tick",
                        "spec": "@every 1h",
                        "overwrite": True,
                        "start": "2026-12-06T08:00:00Z",
                    }
                },
                {
                    "group": [
                        {
                            "pfs": {
                                "repo": "a",
                                "glob": "/(*)-(*).csv",
                                "group_by": "$1",
                                "lazy": True,
                            }
                        },
                        {
                            "join": [
                                {
                                    "pfs": {
                                        "repo": "b",
                                        "glob": "/(*)/(*)",
                                        "join_on": "$2",
                                        "group_by": "$1",
                                        "outer_join": True,
                                    }
                                },
                                {
                                    "pfs": {
                                        "repo": "c",
                                        "name": "cc",
                                        "branch": "dev",
                                        "glob": "/(*)",
                                        "join_on": "$1",
                                        "group_by": "$1",
                                    }
                                },
                            ]
                        },
                    ]
                },
            ]
        },
        parallelism_spec={"coefficient": 1.5},
        datum_tries=5,
        datum_timeout="1h5m",
        job_timeout="90s",
        resource_requests={
            "cpu": "500m",
            "memory": "64M",
            "disk": "10Gi",
            "gpu": {"type": "nvidia.com/gpu", "number": 1},
        },
        resource_limits={"memory": 1_000_000, "gpu": 2},
        output_branch="out-branch",
        reprocess_spec="every_job",
        service={"internal_port": 8888},
    )
    spec, warnings = parse_spec(doc, "s.yaml")
    assert spec.transform.env == (("A", "1"), ("B", "2"), ("C", "true"))
    assert spec.parallelism == 2
    assert spec.datum_timeout == 3900.0 and spec.job_timeout == 90.0
    assert spec.requests == Resources(
        cpu=0.5, memory=64_000_000, gpu=1, disk=10 * 1024**3, gpu_type="nvidia.com/gpu"
    )
    assert spec.limits == Resources(memory=1_000_000, gpu=2)
    assert spec.reprocess is Reprocess.EVERY_JOB
    assert isinstance(spec.input, CombinedInput)
    assert spec.input.inputs[0] == CronInput(
        name="tick", spec="@every 1h", repo="p_tick", overwrite=True, start="2026-12-06T08:00:00Z"
    )
    assert any("coefficient 1.5" in w for w in warnings)
    assert any("image img:1 is recorded, not pulled" in w for w in warnings)
    canonical = spec_doc(spec)
    assert canonical["datum_timeout"] == "1h5m"
    assert canonical["resource_requests"]["memory"] == "64M"
    assert parse_spec(canonical, "again")[0] == spec
    assert json.dumps(spec_doc(spec), sort_keys=True) == json.dumps(canonical, sort_keys=True)


def test_defaults() -> None:
    spec, warnings = parse_spec(base(), "s.yaml")
    assert warnings == []
    assert spec.datum_tries == 3 and spec.parallelism == 1 and spec.output_branch == "master"
    assert spec.input == PfsInput(repo="images", name="images", glob="/*")
    assert spec_doc(spec) == {
        "pipeline": {"name": "p"},
        "transform": {"cmd": ["python3", "main.py"]},
        "datum_tries": 3,
        "input": {"pfs": {"repo": "images", "name": "images", "branch": "master", "glob": "/*"}},
    }


def test_a_gpu_request_is_recorded() -> None:
    spec, _ = parse_spec(
        base(resource_limits={"gpu": {"type": "nvidia.com/gpu", "number": 1}}), "s.yaml"
    )
    assert spec.limits.gpu == 1 and spec.limits.gpu_type == "nvidia.com/gpu"


def test_union_children_may_share_a_name() -> None:
    doc = base(
        input={
            "union": [
                {"pfs": {"repo": "a", "name": "in", "glob": "/*"}},
                {"pfs": {"repo": "b", "name": "in", "glob": "/*"}},
            ]
        }
    )
    spec, _ = parse_spec(doc, "s.yaml")
    assert isinstance(spec.input, CombinedInput) and spec.input.kind is Combine.UNION


def test_yaml_flow_style_starting_with_a_brace() -> None:
    text = "{pipeline: {name: p}, transform: {cmd: [a]}, input: {pfs: {repo: r, glob: /}}}"
    assert parse_specs(text, "s.yaml").specs[0].name == "p"


def test_errors_in_a_file_name_the_document_and_the_pipeline() -> None:
    text = json.dumps(base()) + json.dumps(
        base(pipeline={"name": "q"}, transform={"cmd": ["a"], "imgae": "x"})
    )
    with pytest.raises(InvalidInput) as caught:
        parse_specs(text, "specs.json")
    assert str(caught.value) == (
        "specs.json, document 2 (pipeline 'q'): transform.imgae: unknown field: did you mean 'image'?"
    )
    with pytest.raises(InvalidInput, match=r"^one.yaml \(pipeline 'p'\): datum_tries: "):
        parse_specs(json.dumps(base(datum_tries="2")), "one.yaml")


def test_a_null_field_is_not_set() -> None:
    spec, warnings = parse_spec(
        base(description=None, parallelism_spec=None, service=None), "s.yaml"
    )
    assert spec == parse_spec(base(), "s.yaml")[0] and warnings == []


def test_input_shorthand_as_list_pipeline_shows_it() -> None:
    specs = {s.name: s for s in parse_specs(E2E_SPECS + ISSUE_SPEC, "s.yaml").specs}
    assert shorthand(specs["model"].input) == "(transform:/ \u2a2f tune:/optimal_hp.json)"
    assert shorthand(specs["tune-kf"].input) == "transform:/"
    assert shorthand(specs["stream"].input) == "none"
    spec, _ = parse_spec(
        base(
            input={
                "union": [
                    {"cron": {"name": "tick", "spec": "@daily"}},
                    {"pfs": {"repo": "a", "branch": "dev", "glob": "/*"}},
                ]
            }
        ),
        "s",
    )
    assert shorthand(spec.input) == "(tick:@daily \u222a a@dev:/*)"
