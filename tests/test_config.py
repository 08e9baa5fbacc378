from __future__ import annotations

import pytest

from config import DEFAULT_SECRET_KEY, DEV_CLIENT_ORIGINS, Config, ConfigError


def test_defaults_apply_when_environment_is_empty() -> None:
    config = Config.from_env({})
    assert config.port == 5000
    assert config.host == "127.0.0.1"
    assert config.async_mode == "eventlet"
    assert config.debug is False
    assert config.secret_key == DEFAULT_SECRET_KEY
    assert config.cors_origins == DEV_CLIENT_ORIGINS
    assert config.history_size == 100
    assert config.max_message_length == 2000
    assert config.room_ttl_seconds == 600


def test_values_are_parsed_from_the_environment() -> None:
    config = Config.from_env(
        {
            "PORT": "6001",
            "HOST": "0.0.0.0",
            "DEBUG": "yes",
            "ASYNC_MODE": "GEVENT",
            "SECRET_KEY": "s3cret",
            "CORS_ORIGINS": "https://chat.example.com, http://localhost:3000/",
            "HISTORY_SIZE": "50",
            "MAX_MESSAGE_LENGTH": "500",
            "ROOM_TTL_SECONDS": "1.5",
            "LOG_LEVEL": "debug",
        }
    )
    assert config.port == 6001
    assert config.host == "0.0.0.0"
    assert config.debug is True
    assert config.async_mode == "gevent"
    assert config.secret_key == "s3cret"
    assert config.cors_origins == ("https://chat.example.com", "http://localhost:3000")
    assert config.history_size == 50
    assert config.max_message_length == 500
    assert config.room_ttl_seconds == 1.5
    assert config.log_level == "DEBUG"
    assert not config.uses_default_secret


@pytest.mark.parametrize("mode", ["eventlet", "gevent", "threading"])
def test_every_supported_async_mode_is_accepted(mode: str) -> None:
    assert Config.from_env({"ASYNC_MODE": mode}).async_mode == mode


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("ASYNC_MODE", "asyncio", "use one of: eventlet, gevent, threading"),
        ("PORT", "http", "not a whole number"),
        ("PORT", "0", "between 1 and 65535"),
        ("PORT", "70000", "between 1 and 65535"),
        ("DEBUG", "maybe", "not a boolean"),
        ("HISTORY_SIZE", "0", "between 1 and 10000"),
        ("MAX_MESSAGE_LENGTH", "-5", "between 1 and 100000"),
        ("ROOM_TTL_SECONDS", "soon", "not a number"),
        ("SECRET_KEY", "", "must not be empty"),
        ("HOST", "local host", "not a host name"),
        ("CORS_ORIGINS", " , ", "is empty"),
        ("CORS_ORIGINS", "example.com", "not an origin"),
        ("LOG_LEVEL", "loud", "use DEBUG, INFO"),
        ("LIST_ROOMS_DEFAULT", "public", "use listed or unlisted"),
        ("MOD_TRIPS", "alice", "is not a trip"),
        ("ROOM_OWNER_TTL_DAYS", "0", "between"),
    ],
)
def test_bad_values_stop_with_a_message_naming_the_variable(
    name: str, value: str, complaint: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Config.from_env({name: value})
    assert name in str(raised.value)
    assert complaint in str(raised.value)


def test_moderation_settings_are_read() -> None:
    config = Config.from_env(
        {
            "LIST_ROOMS_DEFAULT": "Listed",
            "MOD_TRIPS": "abcdefghij, ABCDEFGH23",
            "ROOM_OWNER_TTL_DAYS": "2.5",
            "KICK_SECONDS": "60",
        }
    )
    assert config.list_rooms_by_default is True
    assert config.mod_trips == frozenset({"abcdefghij", "abcdefgh23"})
    assert config.room_owner_ttl_days == 2.5 and config.kick_seconds == 60
    assert Config.from_env({"MOD_TRIPS": ""}).mod_trips == frozenset()


def test_star_origin_is_only_taken_when_set_explicitly() -> None:
    assert not Config.from_env({}).allows_any_origin
    assert Config.from_env({"CORS_ORIGINS": "*"}).allows_any_origin


def test_default_secrets_stop_startup_unless_allowed_or_debugging() -> None:
    problem = Config.from_env({}).startup_problem() or ""
    assert "SECRET_KEY and TRIP_SECRET are the public default" in problem
    assert "secrets.token_hex" in problem
    allowed = Config.from_env({"ALLOW_INSECURE_SECRET": "1"})
    assert allowed.startup_problem() is None
    assert Config.from_env({"DEBUG": "true"}).startup_problem() is None
    only_session = Config.from_env({"SECRET_KEY": "x" * 64}).startup_problem() or ""
    assert "TRIP_SECRET is the public default" in only_session
    only_trips = Config.from_env({"TRIP_SECRET": "x" * 64}).startup_problem() or ""
    assert "SECRET_KEY is the public default" in only_trips
    both = {"SECRET_KEY": "x" * 64, "TRIP_SECRET": "y" * 64}
    assert Config.from_env(both).startup_problem() is None


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("TRUSTED_PROXIES", "10.0.0.300", "use addresses or CIDRs"),
        ("RATE_LIMIT_CONNECTIONS", "lots", "is not a rate"),
        ("MAX_CONNECTIONS_PER_IP", "0", "between 1"),
        ("MAX_ROOMS_PER_CONNECTION", "many", "not a whole number"),
        ("RATE_LIMIT_THRESHOLD", "0", "must be above 0"),
        ("RATE_LIMIT_DISCONNECT_SCORE", "5", "at least RATE_LIMIT_THRESHOLD"),
    ],
)
def test_bad_limit_values_stop_with_a_message(
    name: str, value: str, complaint: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Config.from_env({name: value})
    assert complaint in str(raised.value)


def test_every_variable_is_documented_in_env_example_and_readme() -> None:
    import re

    from support import REPO_ROOT

    source = (REPO_ROOT / "server" / "config.py").read_text()
    read = set(re.findall(r'read\(\s*"([A-Z_]+)"', source)) | set(
        re.findall(r'"(RATE_LIMIT_[A-Z_]+)": "', source)
    )
    assert len(read) > 20
    example = (REPO_ROOT / ".env.example").read_text()
    readme = (REPO_ROOT / "README.md").read_text()
    for name in read:
        assert re.search(rf"^{name}=", example, re.M), f"{name} not in .env.example"
        assert f"`{name}`" in readme, f"{name} not in README.md"


def test_env_example_is_a_valid_configuration() -> None:
    from dotenv import dotenv_values

    from support import REPO_ROOT

    values = dotenv_values(REPO_ROOT / ".env.example")
    config = Config.from_env({k: v for k, v in values.items() if v is not None})
    assert config == Config.from_env({})
