"""Kafka security settings: what each combination gives each client library, what is refused
(named by its variable and option), and that a password never shows in repr, str or logs."""

from __future__ import annotations

import argparse
import logging
import ssl
from pathlib import Path

import faust
import pytest
import trustme
from faust.types.auth import AuthProtocol, SASLMechanism

from streams.kafka_security import PLAINTEXT, KafkaSecurity, add_kafka_security_args
from streams.secret_values import MaskedStr, Secret, SecurityConfigError

PASSWORD = "s3cret-Kafka-pw"
V = "DISTILLWATCH_KAFKA_"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("tls")
    authority = trustme.CA()
    client = authority.issue_cert("client.example")
    paths = {"ca": folder / "ca.pem", "cert": folder / "client.pem", "key": folder / "client.key"}
    authority.cert_pem.write_to_path(str(paths["ca"]))
    client.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    client.private_key_pem.write_to_path(str(paths["key"]))
    (folder / "not-pem.txt").write_text("hello\n")
    paths["not_pem"] = folder / "not-pem.txt"
    return {name: str(path) for name, path in paths.items()}


@pytest.fixture
def password_file(tmp_path: Path) -> str:
    path = tmp_path / "kafka.password"
    path.write_text(PASSWORD + "\n")  # `echo` adds the newline; it is not part of the password
    return str(path)


def scram_env(password_file: str, ca: str) -> dict[str, str]:
    return {
        f"{V}SECURITY_PROTOCOL": "sasl_ssl",
        f"{V}SASL_MECHANISM": "scram-sha-512",
        f"{V}SASL_USERNAME": "dw",
        f"{V}SASL_PASSWORD_FILE": password_file,
        f"{V}SSL_CAFILE": ca,
    }


def test_nothing_set_is_plaintext_for_every_client() -> None:
    security = KafkaSecurity.from_env({})
    assert security == PLAINTEXT
    assert security.kafka_python() == {"security_protocol": "PLAINTEXT"}
    assert security.aiokafka() == {"security_protocol": "PLAINTEXT"}
    assert security.faust_credentials() is None


def test_sasl_ssl_scram_from_a_password_file_for_each_library(
    password_file: str, tls_files: dict[str, str]
) -> None:
    security = KafkaSecurity.from_env(scram_env(password_file, tls_files["ca"]))
    assert (security.protocol, security.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert security.password is not None and security.password.reveal() == PASSWORD
    context = security.ssl_context
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    python = security.kafka_python()
    assert python["security_protocol"] == "SASL_SSL"
    assert python["sasl_mechanism"] == "SCRAM-SHA-512"
    assert python["sasl_plain_username"] == "dw"
    assert python["sasl_plain_password"] == PASSWORD
    assert python["ssl_context"] is context and python["ssl_check_hostname"] is True
    aio = security.aiokafka()
    assert aio["ssl_context"] is context and aio["sasl_plain_password"] == PASSWORD
    credentials = security.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol == AuthProtocol.SASL_SSL
    assert credentials.mechanism == SASLMechanism.SCRAM_SHA_512
    assert credentials.ssl_context is context and credentials.password == PASSWORD


def test_sasl_plaintext_has_no_tls_and_faust_knows_it() -> None:
    security = KafkaSecurity.from_env(
        {
            f"{V}SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            f"{V}SASL_MECHANISM": "PLAIN",
            f"{V}SASL_USERNAME": "dw",
            f"{V}SASL_PASSWORD": PASSWORD,
        }
    )
    assert security.ssl_context is None
    assert "ssl_context" not in security.kafka_python()
    credentials = security.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol == AuthProtocol.SASL_PLAINTEXT


def test_ssl_with_a_client_certificate(tls_files: dict[str, str]) -> None:
    security = KafkaSecurity.from_env(
        {
            f"{V}SECURITY_PROTOCOL": "SSL",
            f"{V}SSL_CAFILE": tls_files["ca"],
            f"{V}SSL_CERTFILE": tls_files["cert"],
            f"{V}SSL_KEYFILE": tls_files["key"],
        }
    )
    credentials = security.faust_credentials()
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context is security.ssl_context
    assert "sasl_mechanism" not in security.aiokafka()
    assert "client certificate" in security.describe()


def test_options_override_the_variables_and_the_password_comes_from_the_environment(
    password_file: str, tls_files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in scram_env(password_file, tls_files["ca"]).items():
        monkeypatch.setenv(name, value)
    parser = argparse.ArgumentParser()
    add_kafka_security_args(parser)
    args = parser.parse_args(["--kafka-sasl-mechanism", "SCRAM-SHA-256"])
    security = KafkaSecurity.from_args(args)
    assert security.sasl_mechanism == "SCRAM-SHA-256"  # the option
    assert security.username == "dw"  # the variable, as the option's default
    assert security.password == Secret(PASSWORD)
    # There is no password option: a command line is visible to every local user.
    assert not any("password" in a and "file" not in a for a in parser._option_string_actions)


@pytest.mark.parametrize(
    ("settings", "named", "reason"),
    [
        ({"SECURITY_PROTOCOL": "TLS"}, f"{V}SECURITY_PROTOCOL", "expected one of"),
        (
            {"SASL_MECHANISM": "PLAIN"},
            f"{V}SASL_MECHANISM (--kafka-sasl-mechanism)",
            "SASL is used only with",
        ),
        ({"SASL_USERNAME": "dw"}, f"{V}SASL_USERNAME", "is PLAINTEXT"),
        ({"SASL_PASSWORD": PASSWORD}, f"{V}SASL_PASSWORD", "is PLAINTEXT"),
        ({"SECURITY_PROTOCOL": "SASL_SSL"}, f"{V}SASL_MECHANISM", "PLAIN, SCRAM-SHA-256"),
        (
            {"SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "GSSAPI"},
            f"{V}SASL_MECHANISM",
            "expected one of",
        ),
        (
            {"SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "PLAIN", "SASL_PASSWORD": "x"},
            f"{V}SASL_USERNAME",
            "needs",
        ),
        (
            {"SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "PLAIN", "SASL_USERNAME": "dw"},
            f"{V}SASL_PASSWORD_FILE",
            "needs a password",
        ),
        (
            {"SECURITY_PROTOCOL": "PLAINTEXT", "SSL_CAFILE": "/etc/hosts"},
            f"{V}SSL_CAFILE",
            "TLS is used only with SSL or SASL_SSL",
        ),
        ({"SSL_CHECK_HOSTNAME": "0"}, f"{V}SSL_CHECK_HOSTNAME", "TLS is used only"),
        ({"SECURITY_PROTOCOL": "SSL", "SSL_CHECK_HOSTNAME": "maybe"}, "CHECK_HOSTNAME", "1/true"),
        (
            {"SECURITY_PROTOCOL": "SSL", "SSL_KEYFILE": "/etc/hosts"},
            f"{V}SSL_KEYFILE",
            f"needs {V}SSL_CERTFILE",
        ),
        (
            {"SECURITY_PROTOCOL": "SSL", "SSL_CAFILE": "/no/such/ca.pem"},
            f"{V}SSL_CAFILE",
            "cannot read /no/such/ca.pem",
        ),
    ],
)
def test_unusable_settings_are_refused_naming_the_setting(
    settings: dict[str, str], named: str, reason: str
) -> None:
    with pytest.raises(SecurityConfigError) as refused:
        KafkaSecurity.from_env({V + name: value for name, value in settings.items()})
    assert named in str(refused.value) and reason in str(refused.value)
    assert PASSWORD not in str(refused.value)


def test_a_password_given_two_ways_is_refused(password_file: str) -> None:
    with pytest.raises(SecurityConfigError, match="both set: give the password one way"):
        KafkaSecurity.from_env(
            {f"{V}SASL_PASSWORD": "other", f"{V}SASL_PASSWORD_FILE": password_file}
        )


@pytest.mark.parametrize(("content", "reason"), [("", "is empty"), ("\n", "is empty")])
def test_an_empty_password_file_is_refused(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "empty"
    path.write_text(content)
    with pytest.raises(SecurityConfigError, match=f"{V}SASL_PASSWORD_FILE.*{reason}"):
        KafkaSecurity.from_env({f"{V}SASL_PASSWORD_FILE": str(path)})


def test_a_password_file_keeps_everything_but_its_final_line_break(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_bytes(b" spaced pass \r\n")
    security = KafkaSecurity.from_env(
        {
            f"{V}SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            f"{V}SASL_MECHANISM": "PLAIN",
            f"{V}SASL_USERNAME": "dw",
            f"{V}SASL_PASSWORD_FILE": str(path),
        }
    )
    assert security.password is not None and security.password.reveal() == " spaced pass "


def test_a_ca_file_that_is_not_pem_is_refused_at_load(tls_files: dict[str, str]) -> None:
    with pytest.raises(SecurityConfigError, match="holds no usable CA certificate"):
        KafkaSecurity.from_env(
            {f"{V}SECURITY_PROTOCOL": "SSL", f"{V}SSL_CAFILE": tls_files["not_pem"]}
        )


def test_an_encrypted_client_key_is_refused_instead_of_prompting(
    tmp_path: Path, tls_files: dict[str, str]
) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(Path(tls_files["key"]).read_bytes(), None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"key-pass"),
        )
    )
    with pytest.raises(SecurityConfigError, match=f"{V}SSL_KEYFILE.*encrypted"):
        KafkaSecurity(protocol="SSL", ssl_certfile=tls_files["cert"], ssl_keyfile=str(encrypted))


def test_hostname_checking_can_be_turned_off_with_a_warning(
    tls_files: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        security = KafkaSecurity.from_env(
            {
                f"{V}SECURITY_PROTOCOL": "SSL",
                f"{V}SSL_CAFILE": tls_files["ca"],
                f"{V}SSL_CHECK_HOSTNAME": "false",
            }
        )
    assert security.ssl_context is not None and not security.ssl_context.check_hostname
    assert security.ssl_context.verify_mode == ssl.CERT_REQUIRED  # the chain still is checked
    assert "not checked against the host name" in caplog.text


# --- The password never shows -------------------------------------------------------------


def test_a_secret_shows_masked_however_it_is_printed() -> None:
    secret = Secret(PASSWORD)
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s %r" % (secret, secret)]  # noqa: UP031
    assert all(PASSWORD not in text for text in shown), shown
    assert secret.reveal() == PASSWORD
    assert secret == Secret(PASSWORD) and secret != Secret("other")


def test_the_settings_and_the_client_kwargs_print_masked(
    password_file: str, tls_files: dict[str, str]
) -> None:
    security = KafkaSecurity.from_env(scram_env(password_file, tls_files["ca"]))
    printed = [
        repr(security),
        str(security),
        security.describe(),
        str(security.kafka_python()),  # a dict shows its values' repr
        repr(security.aiokafka()),
        repr(security.faust_credentials()),
    ]
    assert all(PASSWORD not in text for text in printed), printed
    password = security.kafka_python()["sasl_plain_password"]
    assert isinstance(password, MaskedStr) and password.encode() == PASSWORD.encode()


def test_a_secret_is_masked_in_every_log_record_whoever_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = Secret("another-Kafka-pw")  # joins the process-wide redaction
    library = logging.getLogger("aiokafka.conn")
    # At DEBUG, including the Kafka clients' loggers (the CLI holds them at INFO)
    with (
        caplog.at_level(logging.DEBUG),
        caplog.at_level(logging.DEBUG, logger="aiokafka"),
        caplog.at_level(logging.DEBUG, logger="kafka"),
    ):
        # What aiokafka logs at DEBUG for a PLAIN login: the raw bytes, password included.
        library.debug("Request: %s", b"dw\x00dw\x00" + secret.reveal().encode())
        logging.getLogger("kafka.admin.client").debug("config: %s", {"pw": secret.reveal()})
        try:
            raise RuntimeError(f"login with {secret.reveal()} failed")
        except RuntimeError:
            logging.getLogger("some.library").exception("failure")
    assert len(caplog.records) == 3
    assert "another-Kafka-pw" not in caplog.text
    assert caplog.text.count("***") >= 3
    for record in caplog.records:
        assert "another-Kafka-pw" not in logging.Formatter().format(record)


def test_a_very_short_secret_is_not_redacted_everywhere_but_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        short = Secret("abc")
    assert "shorter than 6 characters" in caplog.text
    assert "***" in repr(short)  # still masked where it is printed itself
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("abcdef is an ordinary word here")
    assert "abcdef is an ordinary word here" in caplog.text
