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
