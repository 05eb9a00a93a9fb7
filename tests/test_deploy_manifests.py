"""The Kubernetes manifests (deploy/k8s) stay true to this kaon: every KAON_* they set is a
setting kaon reads (kaon.config.SETTINGS) and its value one kaon accepts, the command and its
flags exist, the ports the Services and probes name are the ones the container listens on,
the files mounted into $KAON_HOME are the ones the server reads, and the executor URL names
the Ray head Service KubeRay makes for the RayCluster."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaon.api.routes.admin import open_router
from kaon.config import DEFAULT_PORT, DEFAULT_S3_PORT, SETTINGS, TOKEN_FILE, ServerSettings
from kaon.core.sealing import KEY_BYTES

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "k8s"
OTHERS = re.compile(r"AWS_[A-Z0-9_]+|POD_IP")  # boto3's variables; the downward API's pod IP


def manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in manifests() if d["kind"] == kind]


def named(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in of_kind(kind) if d["metadata"]["name"] == name]
    return doc


def pod_specs() -> list[dict[str, Any]]:
    specs = [d["spec"]["template"]["spec"] for d in of_kind("Deployment")]
    for ray in of_kind("RayCluster"):
        specs.append(ray["spec"]["headGroupSpec"]["template"]["spec"])
        specs += [g["template"]["spec"] for g in ray["spec"]["workerGroupSpecs"]]
    return specs


def containers() -> list[dict[str, Any]]:
    return [c for spec in pod_specs() for c in spec["containers"]]


def api() -> dict[str, Any]:
    (container,) = named("Deployment", "kaon-api")["spec"]["template"]["spec"]["containers"]
    return container


def configured() -> dict[str, str]:
    """What the API server's environment holds: the ConfigMap's, the Secret's, its own."""
    env = dict(named("ConfigMap", "kaon-settings")["data"])
    env.update(named("Secret", "kaon-secrets")["stringData"])
    env.update({e["name"]: e["value"] for e in api()["env"] if "value" in e})
    return env


def test_the_manifests_parse_and_hold_what_docs_deploy_md_says() -> None:
    kinds = sorted(d["kind"] for d in manifests())
    assert kinds == ["ConfigMap", "Deployment", "RayCluster", "Secret", "Service", "Service"]


def test_every_variable_they_set_is_a_kaon_setting() -> None:
    names = set(named("ConfigMap", "kaon-settings")["data"])
    secret = named("Secret", "kaon-secrets")
    names |= {k for k in secret["stringData"] if k.isupper()}
    names |= {e["name"] for c in containers() for e in c.get("env", [])}
    unknown = [n for n in sorted(names) if n not in SETTINGS and not OTHERS.fullmatch(n)]
    assert not unknown, f"not settings kaon reads: {unknown}"
    assert {"KAON_DATABASE_URL", "KAON_STORE_URL", "KAON_EXECUTOR"} <= names


def test_their_values_are_settings_kaon_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    env = configured()
    for name in list(SETTINGS):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        if name.startswith("KAON_"):
            monkeypatch.setenv(name, value.replace("$(POD_IP)", "10.0.0.7"))
    settings = ServerSettings.from_env()
    assert settings.metadata_url.startswith("postgresql://")
    assert settings.store_url.startswith("s3://")
    assert settings.executor_kind == "ray"
    assert (settings.host, settings.port, settings.s3_port) == (
        "0.0.0.0",
        DEFAULT_PORT,
        DEFAULT_S3_PORT,
    )
    assert settings.advertise_url == f"http://10.0.0.7:{DEFAULT_PORT}"


def test_the_command_and_its_flags_exist() -> None:
    command = api()["command"]
    assert command[:2] == ["kaon", "server"]
    shown = subprocess.run(
        [sys.executable, "-m", "kaon.cli.main", "server", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    for flag in (part for part in command[2:] if part.startswith("--")):
        assert flag in shown.stdout, flag
    flags = dict(zip(command[2::2], command[3::2], strict=True))
    ports = {p["name"]: p["containerPort"] for p in api()["ports"]}
    assert ports == {"http": int(flags["--port"]), "s3": int(flags["--s3-port"])}


def test_services_and_probes_reach_ports_and_routes_that_exist() -> None:
    pod = named("Deployment", "kaon-api")["spec"]["template"]
    ports = {p["name"] for p in api()["ports"]}
    for service in of_kind("Service"):
        selector = service["spec"]["selector"]
        assert selector.items() <= pod["metadata"]["labels"].items(), service["metadata"]
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports
    assert {
        s["metadata"]["name"]: s["spec"]["ports"][0]["targetPort"] for s in of_kind("Service")
    } == {
        "kaon-api": "http",
        "kaon-s3": "s3",
    }
    routes = {getattr(r, "path", "") for r in open_router.routes}
    for probe in ("readinessProbe", "livenessProbe"):
        get = api()[probe]["httpGet"]
        assert get["path"] in routes and get["port"] in ports  # open: no token needed


def test_the_home_gets_the_files_the_server_reads() -> None:
    home = configured()["KAON_HOME"]
    mounts = {m["mountPath"]: m.get("subPath") for m in api()["volumeMounts"]}
    assert mounts[f"{home}/{TOKEN_FILE}"] == "token"
    assert mounts[f"{home}/secret.key"] == "secret.key"
    secret = named("Secret", "kaon-secrets")
    assert "token" in secret["stringData"]
    assert len(base64.b64decode(secret["data"]["secret.key"])) == KEY_BYTES


def test_the_executor_is_the_ray_clusters_client_port() -> None:
    (ray,) = of_kind("RayCluster")
    executor = configured()["KAON_EXECUTOR"]
    assert executor == f"ray://{ray['metadata']['name']}-head-svc:10001"  # KubeRay's Service
    (head,) = ray["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    assert {"name": "client", "containerPort": 10001} in head["ports"]
    images = {c["image"] for c in containers()}
    assert len(images) == 1  # the API servers and the Ray nodes run the same kaon
