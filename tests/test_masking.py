"""One masker for everything shown (issue 18, items 9 and 10): credentials in
``OPENAI_BASE_URL`` never reach ``ahora models``, connection errors or a repr."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI
from typer.testing import CliRunner

from ahora.cli.main import app
from ahora.context import RunContext
from ahora.masking import mask_url
from ahora.models import translate_model_error
from ahora.settings import Settings
from ahora.testing.openai_server import OpenAIServer
from tests.fixtures.open_meteo import closed_url

SECRETS = ("s3cretpw", "k3yvalue", "t0kenvalue", "ghp_", "Bearer zz", "SECRETARG", "pw2x")


def leaked(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def with_credentials(base: str) -> str:
    scheme, rest = base.split("://", 1)
    return f"{scheme}://ana:s3cretpw@{rest}?api-key=k3yvalue&token=t0kenvalue&x=1"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://ana:pw@h:1/v1", "http://ana:****@h:1/v1"),
        (
            "https://h/v1?api-key=abc&key=d&token=e&q=ok",
            "https://h/v1?api-key=****&key=****&token=****&q=ok",
        ),
        ("http://h/v1", "http://h/v1"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_models_command_masks_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    with OpenAIServer(script=["hi"], models=["served-model"]) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url.replace("://", "://ana:s3cretpw@"))
        result = runner.invoke(app, ["models"])
    assert "answered: 1 model" in result.stdout  # the probe worked
    assert "ana:****@" in result.stdout
    assert not leaked(result.stdout + result.stderr), result.output
    monkeypatch.setenv("OPENAI_BASE_URL", with_credentials(closed_url() + "/v1"))
    result = runner.invoke(app, ["models"])
    assert "✗" in result.stdout and not leaked(result.stdout + result.stderr), result.output


def test_connection_errors_mask_the_base_url() -> None:
    model = ChatOpenAI(
        model="m", api_key="sk-x", base_url=with_credentials(closed_url() + "/v1"), max_retries=0
    )
    with pytest.raises(Exception) as caught:
        model.invoke("hi")
    error = translate_model_error(caught.value)
    assert error is not None and "cannot reach the model server at http://ana:****@" in str(error)
    assert not leaked(str(error))


def test_settings_and_run_context_reprs_mask_secrets(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        openai_api_key="sk-abcdefghijkl",
        openai_base_url=with_credentials("http://h/v1"),
        mcp_servers={
            "gh": {
                "command": "gh-mcp",
                "args": ["--api-key", "SECRETARG", "--token=t0kenvalue"],
                "env": {"GITHUB_TOKEN": "ghp_0123456789abcdef0123"},
                "headers": {"Authorization": "Bearer zz-top"},
                "url": "https://u:pw2x@mcp.example/mcp?key=k3yvalue",
            }
        },
    )
    for shown in (repr(settings), repr(RunContext(settings=settings)), str(settings)):
        assert not leaked(shown), shown
        assert "sk-abcdefghijkl" not in shown
        assert "gh-mcp" in shown and "mcp.example" in shown  # the rest is still there
