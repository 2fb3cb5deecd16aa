"""Settings: defaults < config file < environment < explicit overrides; bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from ahora.errors import InvalidSettings
from ahora.settings import Settings, config_path, data_dir, get_settings, is_secret_name


def write_config(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_with_an_empty_environment(tmp_path: Path) -> None:
    s = Settings.load({"AHORA_HOME": str(tmp_path)})
    assert s.model is None and s.openai_api_key is None
    assert s.max_steps == 12 and s.units == "metric" and s.allow_private_urls is False
    assert s.ollama_host == "http://localhost:11434"
    assert s.home == tmp_path
    assert s.cache_dir == tmp_path / "cache"
    assert s.threads_db == tmp_path / "threads.sqlite"
    assert s.effective_search_backend == "ddgs"


def test_config_file_in_ahora_home_is_read(isolated_env: Path) -> None:
    write_config(
        isolated_env,
        'model = "openai:from-file"\nmax_steps = 7\nunits = "imperial"\n'
        'fallback_models = ["openai:a", "openai:b"]\n'
        '[mcp_servers.files]\ncommand = "mcp-files"\n',
    )
    s = get_settings()
    assert s.model == "openai:from-file"
    assert s.max_steps == 7 and s.units == "imperial"
    assert s.fallback_models == ("openai:a", "openai:b")
    assert s.mcp_servers == {"files": {"command": "mcp-files"}}


def test_an_ahora_table_works_too(isolated_env: Path) -> None:
    write_config(isolated_env, "[ahora]\nmax_steps = 4\nallow_private_urls = true\n")
    s = get_settings()
    assert s.max_steps == 4 and s.allow_private_urls is True


def test_environment_beats_config_file_and_overrides_beat_environment(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(isolated_env, 'max_steps = 7\nunits = "imperial"\nsearxng_url = "http://file"\n')
    monkeypatch.setenv("AHORA_MAX_STEPS", "9")
    monkeypatch.setenv("AHORA_SEARXNG_URL", "http://env")
    s = get_settings()
    assert (s.max_steps, s.units, s.searxng_url) == (9, "imperial", "http://env")
    assert s.effective_search_backend == "searxng"
    o = Settings.load(max_steps=3, searxng_url=None)
    assert (o.max_steps, o.units, o.searxng_url) == (3, "imperial", "http://env")


def test_empty_environment_values_do_not_override(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(isolated_env, "max_steps = 7\n")
    monkeypatch.setenv("AHORA_MAX_STEPS", "")
    assert get_settings().max_steps == 7


def test_settings_are_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_MAX_STEPS", "5")
    assert get_settings().max_steps == 5
    monkeypatch.setenv("AHORA_MAX_STEPS", "6")
    assert get_settings().max_steps == 6


def test_provider_variables_and_typed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.5:11434")
    monkeypatch.setenv("AHORA_ALLOW_PRIVATE_URLS", "yes")
    monkeypatch.setenv("AHORA_HTTP_TIMEOUT", "2.5")
    monkeypatch.setenv("AHORA_MAX_TOKENS", "5000")
    monkeypatch.setenv("AHORA_FALLBACK_MODELS", "openai:a, openai:b,")
    monkeypatch.setenv("AHORA_SEARCH_BACKEND", "searxng")
    s = get_settings()
    assert s.openai_api_key == "sk-secret" and s.anthropic_api_key == "sk-ant-secret"
    assert s.openai_base_url == "http://127.0.0.1:8000/v1"
    assert s.ollama_host == "http://10.0.0.5:11434"
    assert s.allow_private_urls is True
    assert s.http_timeout == 2.5 and s.max_tokens == 5000
    assert s.fallback_models == ("openai:a", "openai:b")
    assert s.effective_search_backend == "searxng"
    assert "sk-secret" not in repr(s) and "sk-ant-secret" not in repr(s)


@pytest.mark.parametrize(
    ("var", "value", "name"),
    [
        ("AHORA_MAX_STEPS", "twelve", "max_steps"),
        ("AHORA_HTTP_TIMEOUT", "soon", "http_timeout"),
        ("AHORA_ALLOW_PRIVATE_URLS", "maybe", "allow_private_urls"),
        ("AHORA_UNITS", "kelvin", "units"),
        ("AHORA_SEARCH_BACKEND", "bing", "search_backend"),
        ("AHORA_MAX_TOKENS", "lots", "max_tokens"),
    ],
)
def test_bad_environment_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, name: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(InvalidSettings) as info:
        get_settings()
    assert name in str(info.value) and value in str(info.value)


def test_bad_config_files_name_the_file_or_key(isolated_env: Path) -> None:
    path = write_config(isolated_env, "max_steps = [unclosed\n")
    with pytest.raises(InvalidSettings, match="not valid TOML") as info:
        get_settings()
    assert str(path) in str(info.value)
    write_config(isolated_env, "max_stepz = 3\n")
    with pytest.raises(InvalidSettings, match="unknown setting 'max_stepz'"):
        get_settings()
    write_config(isolated_env, 'max_steps = "many"\n')
    with pytest.raises(InvalidSettings, match="max_steps"):
        get_settings()
    write_config(isolated_env, 'mcp_servers = "x"\n')
    with pytest.raises(InvalidSettings, match="mcp_servers"):
        get_settings()


def test_unknown_overrides_are_refused() -> None:
    with pytest.raises(InvalidSettings, match="unknown setting 'colour'"):
        Settings.load(colour="blue")


def test_paths_follow_ahora_home_and_ahora_config(tmp_path: Path) -> None:
    env = {"AHORA_HOME": str(tmp_path / "h")}
    assert data_dir(env) == tmp_path / "h"
    assert config_path(env) == tmp_path / "h" / "config.toml"
    env["AHORA_CONFIG"] = str(tmp_path / "elsewhere.toml")
    assert config_path(env) == tmp_path / "elsewhere.toml"
    (tmp_path / "elsewhere.toml").write_text("max_steps = 2\n", encoding="utf-8")
    assert Settings.load(env).max_steps == 2
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("max_steps = 3\n", encoding="utf-8")
    assert Settings.load(env, config_file=explicit).max_steps == 3


def test_settings_are_frozen() -> None:
    s = Settings.load({})
    with pytest.raises(AttributeError):
        s.max_steps = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('modle = "openai:x"\n', "unknown setting 'modle'; did you mean 'model'?"),
        ("max_step = 3\n", "unknown setting 'max_step'; did you mean 'max_steps'?"),
        ('max_steps = "many"\n', "max_steps = 'many': expected a whole number"),
        ("max_steps = 3.7\n", "max_steps = 3.7: expected a whole number"),
        ("http_timeout = true\n", "http_timeout = True: expected a number"),
        ("model = 5\n", "model = 5: expected a string"),
        ('allow_private_urls = "perhaps"\n', "expected true or false"),
        ('fallback_models = "openai:a"\nunits = "kelvin"\n', "expected metric or imperial"),
    ],
)
def test_config_file_errors_name_the_file_the_key_and_the_expected_type(
    isolated_env: Path, text: str, message: str
) -> None:
    path = write_config(isolated_env, text)
    with pytest.raises(InvalidSettings) as info:
        get_settings()
    assert str(info.value).startswith(f"config file {path}: ")
    assert message in str(info.value)
    assert "invalid literal" not in str(info.value)


def test_environment_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_MAX_STEPS", "abc")
    with pytest.raises(InvalidSettings) as info:
        get_settings()
    assert str(info.value) == (
        "environment variable AHORA_MAX_STEPS: max_steps = 'abc': expected a whole number"
    )


def test_an_unknown_key_far_from_any_lists_the_known_ones(isolated_env: Path) -> None:
    write_config(isolated_env, "zzzz = 1\n")
    with pytest.raises(InvalidSettings, match=r"unknown setting 'zzzz' \(known: allow_private"):
        get_settings()


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("OPENAI_API_KEY", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("GITHUB_PAT", True),
        ("HF_TOKEN", True),
        ("DATABASE_DSN", True),
        ("postgres_url", True),
        ("PATH", False),
        ("HOME", False),
        ("AUTHOR", False),
        ("KEYBOARD_LAYOUT", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret
