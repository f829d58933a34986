"""The deployment files keep their hardening: read as data (Docker cannot run here), the image
runs as a non-root user with a writable cache, and every Deployment keeps the properties
docs/security.md lists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.cli import build_parser
from sandbox.cli.assembly import admin_policy
from sandbox.cli.serve_config import ServeConfig
from sandbox.serve.app import METRICS_PATH
from sandbox.serve.health import LIVE_PATH, READY_PATH

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines = [line for line in (DEPLOY / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_env() -> dict[str, str]:
    environment: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                environment[name] = value
    return environment


def image_cache_dir() -> str:
    return dockerfile_env()["SANDBOX_CACHE_DIR"]


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    users = [rest for keyword, rest in dockerfile_instructions() if keyword == "USER"]
    assert users, "no USER: the image would run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) >= 1000, f"USER {users[-1]}: numeric, so that runAsNonRoot can check it"
    assert group == "" or (group.isdigit() and int(group) != 0)


def test_the_image_cache_dir_belongs_to_that_user_and_is_a_volume() -> None:
    cache = image_cache_dir()
    uid = [rest for keyword, rest in dockerfile_instructions() if keyword == "USER"][-1].partition(":")[0]
    runs = " ".join(rest for keyword, rest in dockerfile_instructions() if keyword == "RUN")
    assert re.search(rf"mkdir -p {re.escape(cache)}\b", runs)
    assert re.search(rf"chown {uid}(:\d+)? {re.escape(cache)}\b", runs)
    volumes = [rest for keyword, rest in dockerfile_instructions() if keyword == "VOLUME"]
    assert any(cache in volume for volume in volumes), "docker run --read-only needs the cache as a volume"


def test_the_image_health_check_needs_no_token() -> None:
    checks = [rest for keyword, rest in dockerfile_instructions() if keyword == "HEALTHCHECK"]
    assert len(checks) == 1 and READY_PATH in checks[0]


# -- Kubernetes --------------------------------------------------------------------------------


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def deployments() -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    found = []
    for path in MANIFESTS:
        docs = documents(path)
        found += [(path.name, d, docs) for d in docs if d["kind"] == "Deployment"]
    return found


DEPLOYMENTS = deployments()
IDS = [name for name, _, _ in DEPLOYMENTS]


def all_containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def sandbox_container(pod: dict[str, Any]) -> dict[str, Any]:
    (container,) = [c for c in pod["containers"] if c.get("args", [None])[0] == "serve"]
    return dict(container)


def test_both_manifests_have_a_deployment() -> None:
    assert sorted(IDS) == ["sandbox-git-sync.yaml", "sandbox.yaml"]


@pytest.mark.parametrize(("name", "deployment", "docs"), DEPLOYMENTS, ids=IDS)
def test_the_pod_has_no_service_account_token_and_runs_as_non_root(
    name: str, deployment: dict[str, Any], docs: list[dict[str, Any]]
) -> None:
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] != 0
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


@pytest.mark.parametrize(("name", "deployment", "docs"), DEPLOYMENTS, ids=IDS)
def test_every_container_is_locked_down(name: str, deployment: dict[str, Any], docs: list[dict[str, Any]]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    for container in all_containers(pod):
        context = container["securityContext"]
        where = f"{name}: {container['name']}"
        assert context["allowPrivilegeEscalation"] is False, where
        assert context["readOnlyRootFilesystem"] is True, where
        assert context.get("privileged", False) is False, where
        assert context["capabilities"]["drop"] == ["ALL"] and "add" not in context["capabilities"], where
        assert {**pod["securityContext"], **context}["runAsNonRoot"] is True, where
        assert {**pod["securityContext"], **context}["runAsUser"] != 0, where
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where


@pytest.mark.parametrize(("name", "deployment", "docs"), DEPLOYMENTS, ids=IDS)
def test_every_container_declares_requests_limits_and_a_liveness_probe(
    name: str, deployment: dict[str, Any], docs: list[dict[str, Any]]
) -> None:
    for container in all_containers(deployment["spec"]["template"]["spec"]):
        resources = container["resources"]
        for kind in ("requests", "limits"):
            assert set(resources[kind]) >= {"cpu", "memory"}, f"{name}: {container['name']} {kind}"
        probe = container["livenessProbe"]["httpGet"]
        assert probe["port"] in {p["name"] for p in container["ports"]}, f"{name}: {container['name']}"


@pytest.mark.parametrize(("name", "deployment", "docs"), DEPLOYMENTS, ids=IDS)
def test_the_sandbox_is_probed_on_routes_that_need_no_token(
    name: str, deployment: dict[str, Any], docs: list[dict[str, Any]]
) -> None:
    sandbox = sandbox_container(deployment["spec"]["template"]["spec"])
    assert sandbox["startupProbe"]["httpGet"]["path"] == LIVE_PATH
    assert sandbox["livenessProbe"]["httpGet"]["path"] == LIVE_PATH
    assert sandbox["readinessProbe"]["httpGet"]["path"] == READY_PATH
    ports = {p["name"] for p in sandbox["ports"]}
    assert all(sandbox[probe]["httpGet"]["port"] in ports for probe in ("startupProbe", "readinessProbe"))


@pytest.mark.parametrize(("name", "deployment", "docs"), DEPLOYMENTS, ids=IDS)
def test_the_pod_is_annotated_for_scraping_and_the_scraper_is_let_in(
    name: str, deployment: dict[str, Any], docs: list[dict[str, Any]]
) -> None:
    """Annotation-based discovery: scrape, port and path match the container; a scraper sends no admin
    token, so the arguments open /metrics alone (the admin routes stay closed on 0.0.0.0)."""
    template = deployment["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    sandbox = sandbox_container(template["spec"])
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == METRICS_PATH
    assert int(annotations["prometheus.io/port"]) in {p["containerPort"] for p in sandbox["ports"]}
    config = ServeConfig.from_args(build_parser().parse_args(sandbox["args"]))
    policy = admin_policy(config)
    assert config.metrics and policy.metrics_public and not policy.open
    assert config.log_format == "json"


@pytest.mark.parametrize(("name", "deployment", "docs"), DEPLOYMENTS, ids=IDS)
def test_the_admin_token_comes_from_a_secret_of_the_manifest(
    name: str, deployment: dict[str, Any], docs: list[dict[str, Any]]
) -> None:
    sandbox = sandbox_container(deployment["spec"]["template"]["spec"])
    (variable,) = [e for e in sandbox["env"] if e["name"] == "SANDBOX_ADMIN_TOKEN"]
    assert "value" not in variable, "a token in the manifest's clear text"
    reference = variable["valueFrom"]["secretKeyRef"]
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    assert reference["key"] in secrets[reference["name"]]["stringData"]
    for entry in sandbox["env"]:
        if re.search(r"SECRET|TOKEN", entry["name"]):
            assert "secretKeyRef" in entry["valueFrom"], entry["name"]


@pytest.mark.parametrize(("name", "deployment", "docs"), DEPLOYMENTS, ids=IDS)
def test_the_cache_and_tmp_are_writable_volumes(
    name: str, deployment: dict[str, Any], docs: list[dict[str, Any]]
) -> None:
    pod = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    sandbox = sandbox_container(pod)
    environment = {e["name"]: e.get("value") for e in sandbox["env"]}
    cache = environment["SANDBOX_CACHE_DIR"]
    assert cache == image_cache_dir()
    assert not any(a.startswith("--cache-dir") for a in sandbox["args"]), "one place names the cache"
    for container in all_containers(pod):
        writable = {m["mountPath"]: m for m in container["volumeMounts"] if not m.get("readOnly", False)}
        wanted = ["/tmp", cache] if container is sandbox else ["/tmp"]
        for path in wanted:
            assert path in writable, f"{name}: {container['name']} has no writable {path}"
            assert "emptyDir" in volumes[writable[path]["name"]]


@pytest.mark.parametrize(("name", "deployment", "docs"), DEPLOYMENTS, ids=IDS)
def test_the_sandbox_arguments_parse_and_the_grace_period_covers_the_drain(
    name: str, deployment: dict[str, Any], docs: list[dict[str, Any]]
) -> None:
    pod = deployment["spec"]["template"]["spec"]
    args = build_parser().parse_args(sandbox_container(pod)["args"])
    assert args.host == "0.0.0.0" and args.port == 8000
    assert pod["terminationGracePeriodSeconds"] > args.shutdown_timeout
