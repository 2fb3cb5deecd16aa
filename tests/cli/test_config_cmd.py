"""``ahora config show`` masks secrets wherever they hide in a value."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ahora.cli.config_cmd import mask
from ahora.cli.main import app

CONFIG = """\
postgres_url = "host=db.internal user=ahora password=hunter2-kw dbname=threads"
searxng_url = "https://search.example/?format=json&token=q-secret-123&lang=en"

[mcp_servers.github]
command = "npx"
args = ["-y", "@mcp/gh", "--token", "tok-secret-arg", "--api-key=key-secret-eq", "--port", "3000"]
env = { GITHUB_TOKEN = "env-secret-456" }

[mcp_servers.remote]
url = "https://mcp.example/sse?access_token=url-secret-789&x=1"
"""

SECRETS = [
    "hunter2-kw",
    "q-secret-123",
    "tok-secret-arg",
    "key-secret-eq",
    "env-secret-456",
    "url-secret-789",
]


def test_config_show_masks_args_query_tokens_and_keyword_passwords(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "config.toml").write_text(CONFIG)
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for secret in SECRETS:
        assert secret[:-4] not in out, secret
    assert "password=****" in out and "user=ahora" in out
    assert "token=****&lang=en" in out and "access_token=****&x=1" in out
    assert '"--token", "****-arg"' in out and '"--port", "3000"' in out
    assert "--api-key=****t-eq" in out


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("args", ["--password", "p", "x"], ["--password", "****", "x"]),
        ("args", ["--auth=abc"], ["--auth=****"]),
        ("args", ["run", "sk-abcdefghijklmnop"], ["run", "****mnop"]),
        ("dsn", "dbname=x password='two words' host=h", "dbname=x password=**** host=h"),
        (
            "url",
            "postgresql://me:pw@db/x?sslpassword=s",
            "postgresql://me:****@db/x?sslpassword=****",
        ),
        ("url", "https://example.org/?q=weather", "https://example.org/?q=weather"),
        ("home", "/home/me/.local/share/ahora", "/home/me/.local/share/ahora"),
        ("fallback_models", ["openai:gpt-4.1", "ollama:qwen3"], ["openai:gpt-4.1", "ollama:qwen3"]),
    ],
)
def test_mask(name: str, value: object, shown: object) -> None:
    assert mask(name, value) == shown


def test_config_show_keeps_the_origin_apart_from_a_long_value(isolated_env: Path) -> None:
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "config.toml").write_text(CONFIG)
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("mcp_servers ="))
    assert line.endswith("}  # config file"), line


def test_config_show_agent_names_the_detected_model(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It said ``model = not set`` while a run would use an auto-detected model."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    shown = runner.invoke(app, ["config", "show", "--agent", "assistant"]).stdout
    agent = shown.split("# agent assistant")[1]
    model = next(line for line in agent.splitlines() if "model =" in line)
    assert "openai:" in model and "detected" in model and "not set" not in model
