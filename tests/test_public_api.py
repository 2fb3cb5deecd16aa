"""The public surface: ``ahora.__all__`` matches the namespace, and importing stays light."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import ahora

HEAVY = (
    "langchain",
    "langchain_core",
    "langchain_openai",
    "langgraph",
    "openai",
    "ddgs",
    "trafilatura",
)


def test_all_names_resolve_and_match_dir() -> None:
    assert len(set(ahora.__all__)) == len(ahora.__all__)
    assert dir(ahora) == sorted(ahora.__all__)
    for name in ahora.__all__:
        value = getattr(ahora, name)
        assert value is not None, name
        if name != "__version__":
            assert value.__module__.startswith("ahora."), name


def test_the_core_names_are_public() -> None:
    assert {"Agent", "Answer", "Settings", "create_agent", "__version__"} <= set(ahora.__all__)
    assert isinstance(ahora.__version__, str) and ahora.__version__[0].isdigit()


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from ahora import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(ahora.__all__)


def test_unknown_attributes_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Agnet'"):
        ahora.Agnet  # type: ignore[attr-defined]  # noqa: B018


@pytest.mark.parametrize(
    "module",
    [
        "ahora.errors",
        "ahora.settings",
        "ahora.models",
        "ahora.events",
        "ahora.answer",
        "ahora.prompt",
        "ahora.agent",
        "ahora.testing",
        "ahora.testing.openai_server",
        "ahora.middleware",
    ],
)
def test_submodule_all_lists_only_existing_names(module: str) -> None:
    mod = importlib.import_module(module)
    missing = [n for n in getattr(mod, "__all__", []) if not hasattr(mod, n)]
    assert missing == []


def test_error_tree_is_exported_and_rooted() -> None:
    from ahora import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.AhoraError)


def test_import_ahora_does_not_load_langchain_or_langgraph() -> None:
    code = (
        "import sys, json, ahora, ahora.settings, ahora.errors, ahora.models, ahora.answer, "
        "ahora.events, ahora.prompt\n"
        "ahora.Settings; ahora.Answer; ahora.__version__; dir(ahora)\n"
        "from ahora.models import choose_model, installed_providers\n"
        "installed_providers()\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(out.stdout) == []
