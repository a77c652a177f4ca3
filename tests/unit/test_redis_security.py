"""Redis credentials and TLS settings: what reaches redis-py, what is refused before any
connection, and URLs shown without their passwords."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from streams.redis_connect import connect_sync, parse_redis_url, redact_url
from streams.redis_security import RedisSecurity
from streams.secret_values import MaskedStr, Secret, SecurityConfigError

PASSWORD = "s3cret-Redis-pw"
V = "DISTILLWATCH_REDIS_"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    password = tmp_path / "redis.password"
    password.write_text(PASSWORD + "\n")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")  # only read at connect, by redis-py
    return {"password": str(password), "ca": str(ca)}


def test_an_acl_user_with_a_password_file_and_a_ca_reach_redis_py(files: dict[str, str]) -> None:
    security = RedisSecurity.from_env(
        {
            f"{V}USERNAME": "distillwatch",
            f"{V}PASSWORD_FILE": files["password"],
            f"{V}TLS_CA_FILE": files["ca"],
        }
    )
    kwargs = security.client_kwargs(tls=True)
    assert kwargs["username"] == "distillwatch" and kwargs["password"] == PASSWORD
    assert isinstance(kwargs["password"], MaskedStr) and PASSWORD not in repr(kwargs)
    assert kwargs["ssl_ca_certs"] == files["ca"] and kwargs["ssl_cert_reqs"] == "required"
    assert kwargs["ssl_check_hostname"] is True
    assert "ssl_ca_certs" not in security.client_kwargs(tls=False)
    assert PASSWORD not in repr(security)


def test_connect_passes_them_to_a_rediss_client(files: dict[str, str]) -> None:
    security = RedisSecurity.from_env(
        {f"{V}PASSWORD_FILE": files["password"], f"{V}TLS_CA_FILE": files["ca"]}
    )
    client = connect_sync("rediss://cache.example:6380/0", security)
    assert isinstance(client, redis.Redis)
    options = client.connection_pool.connection_kwargs
    assert options["password"] == PASSWORD and options["ssl_ca_certs"] == files["ca"]
    assert client.connection_pool.connection_class is redis.SSLConnection
    client.close()


def test_the_url_userinfo_still_works_alone() -> None:
    client = connect_sync("redis://dw:url-pass@cache.example:6379/0", RedisSecurity())
    assert isinstance(client, redis.Redis)
    assert client.connection_pool.connection_kwargs["password"] == "url-pass"
    client.close()


@pytest.mark.parametrize(
    ("env", "url", "reason"),
    [
        ({"PASSWORD": "p"}, "redis://:url-pass@h:6379/0", "carries a password"),
        ({"USERNAME": "u", "PASSWORD": "p"}, "redis://dw@h:6379/0", "names a user"),
        ({"TLS_CA_FILE": "/etc/hosts"}, "redis://h:6379/0", "no TLS"),
        ({"TLS_CHECK_HOSTNAME": "0"}, "redis-cluster://h:7000", "no TLS"),
    ],
)
def test_conflicts_with_the_url_are_refused_before_connecting(
    env: dict[str, str], url: str, reason: str
) -> None:
    security = RedisSecurity.from_env({V + name: value for name, value in env.items()})
    with pytest.raises(SecurityConfigError, match=reason) as refused:
        connect_sync(url, security)
    assert "url-pass" not in str(refused.value)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"USERNAME": "u"}, f"{V}USERNAME is set without a password"),
        ({"TLS_KEY_FILE": "/etc/hosts"}, f"{V}TLS_KEY_FILE needs {V}TLS_CERT_FILE"),
        ({"TLS_CA_FILE": "/no/such/ca.pem"}, f"{V}TLS_CA_FILE: cannot read /no/such/ca.pem"),
        ({"PASSWORD": "p", "PASSWORD_FILE": "/etc/hosts"}, "both set"),
        ({"TLS_CHECK_HOSTNAME": "perhaps"}, f"{V}TLS_CHECK_HOSTNAME='perhaps'"),
    ],
)
def test_unusable_settings_are_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SecurityConfigError) as refused:
        RedisSecurity.from_env({V + name: value for name, value in env.items()})
    assert named in str(refused.value)


def test_connect_reads_the_environment_when_given_no_settings(
    files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"{V}PASSWORD_FILE", files["password"])
    client = connect_sync("redis://cache.example:6379/0")
    assert isinstance(client, redis.Redis)
    assert client.connection_pool.connection_kwargs["password"] == PASSWORD
    client.close()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://dw:s%40cret@h:6379/0", "redis://dw:***@h:6379/0"),
        ("rediss://:s3cret@h:6380/1", "rediss://:***@h:6380/1"),
        ("rediss-cluster://dw:s3cret@a:7000,b:7001", "rediss-cluster://dw:***@a:7000,b:7001"),
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("unix:///run/redis.sock?password=s3cret", "unix:///run/redis.sock?***"),
    ],
)
def test_urls_are_shown_without_their_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_parse_errors_and_targets_do_not_show_the_password() -> None:
    with pytest.raises(ValueError) as refused:
        parse_redis_url("redis-sentinel://dw:s3cret@s1:26379")
    assert "s3cret" not in str(refused.value) and "dw:***@" in str(refused.value)
    target = parse_redis_url("rediss-cluster://dw:s3cret@a:7000")
    assert "s3cret" not in repr(target) and target.password == "s3cret"


def test_a_password_variable_is_a_secret() -> None:
    security = RedisSecurity.from_env({f"{V}PASSWORD": PASSWORD})
    assert security.password == Secret(PASSWORD)
    assert PASSWORD not in f"{security}"
