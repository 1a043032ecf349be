"""docker-compose.yml for a region: services, healthchecks, dependencies, pinned images, .env.example.

No container engine runs here: the file is checked statically (and against the Compose Specification
schema); `docker compose config` runs too where the client has the compose plugin.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from infopole.embedded import BROKER_SERVER_CONFIG
from infopole.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
SCHEMA = Path(__file__).parent / "fixtures" / "compose-spec" / "compose-spec.json"
#: Long-running services that must report health, and the one-shot setup services.
HEALTHY = {"elasticsearch", "kibana", "redis", "api"}
ONE_SHOT = {"setup", "setup-dashboards"}
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]  # type: ignore[no-any-return]


def env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def test_matches_the_compose_specification_schema(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(compose)


def test_every_service_is_there(services: dict[str, Any]) -> None:
    assert set(services) == {
        "elasticsearch",
        "kibana",
        "setup",
        "setup-dashboards",
        "redis",
        "api",
        "worker",
        "worker-telegram",
        "scheduler",
    }


def test_long_running_services_have_healthchecks(services: dict[str, Any]) -> None:
    for name in HEALTHY:
        check = services[name]["healthcheck"]
        assert check["test"] and check["retries"] >= 10, name
    assert "wait_for_status=yellow" in " ".join(services["elasticsearch"]["healthcheck"]["test"])
    assert '"level":"available"' in " ".join(services["kibana"]["healthcheck"]["test"])
    assert services["kibana"]["environment"]["STATUS_ALLOWANONYMOUS"] == "true"  # no credentials in the check


def test_dependencies_wait_for_health_and_setup(services: dict[str, Any]) -> None:
    def needs(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}

    assert needs("setup") == {"elasticsearch": "service_healthy"}
    assert needs("kibana") == {"elasticsearch": "service_healthy", "setup": "service_completed_successfully"}
    assert needs("setup-dashboards") == {"kibana": "service_healthy"}
    for name in ("api", "worker", "worker-telegram", "scheduler"):
        assert needs(name) == {
            "redis": "service_healthy",
            "elasticsearch": "service_healthy",
            "setup": "service_completed_successfully",
        }, name
    for name in ONE_SHOT:
        assert services[name]["restart"] == "no"


def test_every_image_is_pinned_and_the_stack_matches_the_client(services: dict[str, Any]) -> None:
    versions = {}
    for name, service in services.items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and re.fullmatch(r"\d+\.\d+\.\d+(-[a-z0-9.]+)?", tag), (
            name,
            image,
        )
        versions[name] = tag
    assert versions["elasticsearch"] == versions["kibana"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pin = next(d for d in pyproject["project"]["dependencies"] if d.startswith("elasticsearch"))
    major = int(versions["elasticsearch"].split(".")[0])
    assert f">={major}." in pin and f"<{major + 1}" in pin, pin
    app_image = services["api"]["image"]
    assert all(services[n]["image"] == app_image for n in ("setup", "worker", "scheduler", "worker-telegram"))
    assert app_image.endswith(":" + pyproject["project"]["version"])


def test_elasticsearch_is_secured_single_node_with_heap_and_persistence(services: dict[str, Any]) -> None:
    es = services["elasticsearch"]
    env = es["environment"]
    assert env["xpack.security.enabled"] == "true" and env["discovery.type"] == "single-node"
    assert env["ELASTIC_PASSWORD"].startswith("${ELASTIC_PASSWORD:?")
    assert "-Xms${ES_HEAP" in env["ES_JAVA_OPTS"] and "-Xmx${ES_HEAP" in env["ES_JAVA_OPTS"]
    assert any(v.endswith(":/usr/share/elasticsearch/data") for v in es["volumes"])
    assert all(port.startswith("127.0.0.1:") for port in es["ports"] + services["kibana"]["ports"])
    assert "vm.max_map_count" in COMPOSE.read_text(encoding="utf-8")


def test_kibana_uses_kibana_system_and_an_encryption_key(services: dict[str, Any]) -> None:
    env = services["kibana"]["environment"]
    assert env["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert "KIBANA_SYSTEM_PASSWORD" in env["ELASTICSEARCH_PASSWORD"]
    assert "KIBANA_ENCRYPTION_KEY" in env["XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY"]
    assert services["setup"]["command"][:3] == ["infopole", "elastic", "setup"]
    assert services["setup"]["environment"]["KIBANA_SYSTEM_PASSWORD"].startswith("${KIBANA_SYSTEM_PASSWORD")
    assert services["setup-dashboards"]["command"][:3] == ["infopole", "kibana", "load"]


def test_redis_persists_like_the_embedded_broker(services: dict[str, Any]) -> None:
    command = services["redis"]["command"]
    for option, value in BROKER_SERVER_CONFIG.items():
        assert command[command.index(f"--{option}") + 1] == value, option
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])


def test_workers_scale_one_scheduler_one_telegram_session(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert "deploy" not in worker and "container_name" not in worker and "ports" not in worker
    assert worker["environment"]["TELEGRAM__SESSION"] == ""
    assert "infopole-collect" not in worker["command"]
    telegram = services["worker-telegram"]
    assert telegram["deploy"]["replicas"] == 1
    assert telegram["command"][telegram["command"].index("--processes") + 1] == "1"
    assert telegram["command"][telegram["command"].index("--threads") + 1] == "1"
    assert telegram["command"][-1] == "infopole-collect"
    assert services["scheduler"]["deploy"]["replicas"] == 1
    assert services["api"]["environment"]["STORE__BACKEND"] == "elastic"


def test_every_variable_is_in_env_example_and_every_setting_there_exists(compose: dict[str, Any]) -> None:
    example = env_example()
    used = set(VARIABLE.findall(COMPOSE.read_text(encoding="utf-8")))
    assert used - set(example) == set(), "add these to .env.example"
    settings_fields = {
        f"{group.upper()}__{name.upper()}"
        for group, field in Settings.model_fields.items()
        if field.annotation is not None and hasattr(field.annotation, "model_fields")
        for name in field.annotation.model_fields
    }
    aliases = {field.alias for field in Settings.model_fields.values() if field.alias}
    for key in example:
        assert key in used or key in settings_fields or key in aliases, f"{key} is used by nothing"


def test_docker_compose_config_where_the_client_can(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("нет docker compose: файл проверен схемой Compose Specification")
    env = tmp_path / ".env"
    env.write_text(ENV_EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "--env-file", str(env), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_dockerfile_ships_the_mappings_and_dashboards_and_runs_unprivileged() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for package in ("index", "dashboards", "infopole", "worker", "api", "risk", "crawlers"):
        assert f"COPY {package} ./{package}" in dockerfile
    assert "USER infopole" in dockerfile
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = pyproject["tool"]["setuptools"]["package-data"]["*"]
    assert "*.json" in data and "*.ndjson" in data
    assert (ROOT / "index" / "mappings" / "__init__.py").exists()  # a package, so its JSON is installed
