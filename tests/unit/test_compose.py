"""docker-compose.yml publishes nothing beyond the host's loopback by default: Kafka there is
plaintext, Redis holds the detector's state, /metrics needs no credentials."""

from __future__ import annotations

import yaml

from tests.helpers import ROOT


def test_every_published_port_is_bound_to_loopback() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    published = {name: service.get("ports", []) for name, service in compose["services"].items()}
    assert any(published.values())
    for name, ports in published.items():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_secrets_are_files_and_redis_requires_a_password() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert set(compose["secrets"]) == {"redis_password", "grafana_admin_password", "ingest_tokens"}
    assert "--requirepass" in " ".join(compose["services"]["redis"]["command"])
    for name in ("worker", "dispatcher"):
        env = compose["services"][name]["environment"]
        assert env["DISTILLWATCH_REDIS_PASSWORD_FILE"] == "/run/secrets/redis_password"


def test_every_image_is_pinned_and_every_long_running_service_has_a_healthcheck() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), (name, image)
        if "profiles" not in service:  # one-off jobs (the simulator) end on their own
            assert "healthcheck" in service, name
