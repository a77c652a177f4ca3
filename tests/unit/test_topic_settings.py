"""The worker's topic options (replication factor, dead-letter retention) and the commands'
Kafka security options, as parsed from the command line and the environment."""

from __future__ import annotations

import argparse

import pytest

from streams.cli import build_parser, main
from streams.kafka_admin import DLQ_MAX_MESSAGE_BYTES, dlq_topic_config
from streams.worker_args import add_worker_args


def worker_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_worker_args(parser)
    return parser.parse_args(argv)


def test_defaults_suit_one_development_broker_and_keep_dead_letters_a_week() -> None:
    args = worker_args([])
    assert args.replication_factor == 1
    assert args.dlq_retention_hours == 168.0
    assert dlq_topic_config(args.dlq_retention_hours) == {
        "max.message.bytes": str(DLQ_MAX_MESSAGE_BYTES),
        "retention.ms": str(7 * 24 * 3600 * 1000),
    }


def test_the_environment_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILLWATCH_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("DISTILLWATCH_DLQ_RETENTION_HOURS", "1.5")
    args = worker_args([])
    assert (args.replication_factor, args.dlq_retention_hours) == (3, 1.5)
    assert dlq_topic_config(args.dlq_retention_hours)["retention.ms"] == str(5_400_000)


@pytest.mark.parametrize(
    "argv",
    [
        ["--replication-factor", "0"],
        ["--replication-factor", "three"],
        ["--dlq-retention-hours", "0"],
        ["--dlq-retention-hours", "-4"],
        ["--dlq-retention-hours", "nan"],
    ],
)
def test_nonsense_is_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        worker_args(argv)
    assert argv[0] in capsys.readouterr().err


def test_a_bad_variable_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILLWATCH_REPLICATION_FACTOR", "0")
    with pytest.raises(SystemExit):
        worker_args([])


@pytest.mark.parametrize("command", [["worker"], ["dispatch", "--sinks", "s.yaml"]])
def test_every_kafka_command_takes_the_security_options(command: list[str]) -> None:
    args = build_parser().parse_args(
        [*command, "--kafka-security-protocol", "SSL", "--kafka-ssl-cafile", "/ca.pem"]
    )
    assert (args.kafka_security_protocol, args.kafka_ssl_cafile) == ("SSL", "/ca.pem")


def test_a_refused_setting_ends_the_command_with_its_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["simulate", "--hours", "0.01", "--to-kafka", "127.0.0.1:1", "--kafka-sasl-mechanism",
         "PLAIN"]
    )  # fmt: skip
    assert code == 2
    assert "DISTILLWATCH_KAFKA_SASL_MECHANISM (--kafka-sasl-mechanism)" in capsys.readouterr().err
