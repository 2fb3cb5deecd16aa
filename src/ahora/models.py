"""Which chat model to use: ``"provider:name"`` strings, instances, and auto-detection.

Resolution order when no model is given: ``AHORA_MODEL``; ``OPENAI_API_KEY`` (with
``OPENAI_BASE_URL``, so any OpenAI-compatible server works); ``ANTHROPIC_API_KEY``;
an Ollama server answering at ``OLLAMA_HOST``. ``choose_model`` decides without
importing LangChain (the CLI's ``ahora models`` uses it); ``resolve_model`` builds it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ahora.errors import (
    InvalidModel,
    ModelAuthenticationError,
    ModelUnavailable,
    NoModelConfigured,
    ProviderNotInstalled,
)
from ahora.masking import mask_url
from ahora.settings import Settings, get_settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "DEFAULT_ANTHROPIC_MODEL",
    "DEFAULT_OPENAI_MODEL",
    "ModelChoice",
    "Probe",
    "choose_model",
    "installed_providers",
    "is_auth_error",
    "probe_ollama",
    "probe_openai",
    "resolve_model",
    "translate_model_error",
]

DEFAULT_OPENAI_MODEL = "gpt-4.1-mini"
DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-4-5"

# provider -> (python module, ahora extra that installs it)
_PROVIDER_PACKAGES: dict[str, tuple[str, str | None]] = {
    "openai": ("langchain_openai", None),
    "anthropic": ("langchain_anthropic", "anthropic"),
    "ollama": ("langchain_ollama", "ollama"),
}

NO_MODEL_HELP = """\
No model is configured. ahora needs one chat model; choose one of:
  1. AHORA_MODEL=provider:name     e.g. AHORA_MODEL=openai:gpt-4.1-mini
  2. OPENAI_API_KEY=sk-...         OpenAI, or any OpenAI-compatible server
                                   (vLLM, llama.cpp, LM Studio, Ollama's /v1)
                                   with OPENAI_BASE_URL=http://host:port/v1
  3. ANTHROPIC_API_KEY=sk-ant-...  Anthropic (pip install 'ahora[anthropic]')
  4. A local Ollama server at OLLAMA_HOST (default http://localhost:11434)
     with a pulled model (ollama pull llama3.2; pip install 'ahora[ollama]')
Or pass --model to the CLI, or Agent(model=...) in Python."""


#: How long start-up waits for a model server to list its models, in seconds.
PROBE_SECONDS = 1.5


@dataclass(frozen=True)
class Probe:
    """What a model server said when asked which models it serves."""

    url: str  # the URL asked
    models: tuple[str, ...] = ()
    error: str | None = None  # why it did not answer usefully (names the URL, masked)
    redirect_refused: bool = False  # it redirected the API key to another origin

    @property
    def answered(self) -> bool:
        return self.error is None

    @property
    def shown_url(self) -> str:
        """The URL as it may be printed: password and secret query values masked."""
        return mask_url(self.url)


@dataclass(frozen=True)
class ModelChoice:
    """The model that would be used, and why (shown by ``ahora models``)."""

    spec: str
    reason: str
    base_url: str | None = None
    probe: Probe | None = None  # the server asked during auto-detection, if any

    @property
    def shown_base_url(self) -> str | None:
        """``base_url`` as it may be printed: password and secret query values masked."""
        return mask_url(self.base_url) if self.base_url else None


def installed_providers() -> dict[str, bool]:
    """Which of ahora's usual providers have their LangChain package installed."""
    return {
        p: importlib.util.find_spec(mod) is not None for p, (mod, _) in _PROVIDER_PACKAGES.items()
    }


def choose_model(settings: Settings | None = None, *, probe: bool = True) -> ModelChoice:
    """Pick a model spec from the settings, or raise ``NoModelConfigured``.

    With ``probe``, an OpenAI-compatible server's ``/models`` and Ollama's ``/api/tags``
    are asked (with a short timeout) which models they serve.
    """
    s = settings or get_settings()
    if s.model:
        return ModelChoice(s.model, "AHORA_MODEL (or the config file's model)", s.openai_base_url)
    if s.openai_api_key:
        if s.openai_base_url:
            asked = probe_openai(s) if probe else None
            name = (asked.models[0] if asked and asked.models else None) or DEFAULT_OPENAI_MODEL
            return ModelChoice(
                f"openai:{name}", "OPENAI_API_KEY with OPENAI_BASE_URL", s.openai_base_url, asked
            )
        return ModelChoice(f"openai:{DEFAULT_OPENAI_MODEL}", "OPENAI_API_KEY")
    if s.anthropic_api_key:
        return ModelChoice(f"anthropic:{DEFAULT_ANTHROPIC_MODEL}", "ANTHROPIC_API_KEY")
    if probe:
        asked = probe_ollama(s)
        if asked.models:
            return ModelChoice(
                f"ollama:{asked.models[0]}",
                f"an Ollama server at {s.ollama_host}",
                s.ollama_host,
                asked,
            )
    raise NoModelConfigured(NO_MODEL_HELP)


def probe_openai(settings: Settings, *, timeout: float = PROBE_SECONDS) -> Probe:
    """Ask an OpenAI-compatible server's ``/models`` which models it serves.

    The API key goes only to the configured origin: a redirect elsewhere is reported
    as an error naming both URLs, never followed (see :func:`ahora.http.get`).
    """
    url = f"{(settings.openai_base_url or '').rstrip('/')}/models"
    headers = {"Authorization": f"Bearer {settings.openai_api_key}"}
    return _probe(url, settings, timeout, headers, lambda d: [m["id"] for m in d["data"]])


def probe_ollama(settings: Settings, *, timeout: float = PROBE_SECONDS) -> Probe:
    """Ask the Ollama server at ``OLLAMA_HOST`` which models are pulled."""
    url = f"{settings.ollama_host.rstrip('/')}/api/tags"
    return _probe(url, settings, timeout, {}, lambda d: [m["name"] for m in d["models"]])


def _probe(
    url: str,
    settings: Settings,
    timeout: float,
    headers: dict[str, str],
    names: Callable[[Any], list[Any]],
) -> Probe:
    from ahora import http
    from ahora.errors import ToolFailure

    headers = {**headers, "Cache-Control": "no-store", "Accept": "application/json"}
    shown = mask_url(url)
    try:
        resp = http.get(url, headers=headers, settings=settings, timeout=timeout, retries=0)
    except http.RedirectRefused as exc:
        return Probe(url, error=str(exc), redirect_refused=True)
    except ToolFailure as exc:
        return Probe(url, error=f"{shown}: {exc}")
    if resp.status_code >= 400:
        return Probe(url, error=f"{shown} answered HTTP {resp.status_code}")
    try:
        found = tuple(str(n) for n in names(resp.json()))
    except (ValueError, KeyError, TypeError):
        return Probe(url, error=f"{shown} did not answer with a list of models")
    return Probe(url, models=found)


def split_spec(spec: str) -> tuple[str, str]:
    """``"provider:name"`` -> (provider, name), with messages that say what to write."""
    provider, sep, name = spec.partition(":")
    if not sep or not provider or not name:
        raise InvalidModel(
            f"model {spec!r} has no provider: write 'provider:name', "
            f"e.g. 'openai:{DEFAULT_OPENAI_MODEL}' or 'ollama:llama3.2'"
        )
    return provider.strip().lower(), name.strip()


def _known_providers() -> set[str]:
    from langchain.chat_models import base

    return set(base._BUILTIN_PROVIDERS)


def check_spec(spec: str) -> tuple[str, str]:
    """Validate a spec without any network call: known provider, package installed."""
    provider, name = split_spec(spec)
    known = _known_providers()
    if provider not in known:
        import difflib

        close = difflib.get_close_matches(provider, sorted(known), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}:{name}? " if close else ""
        raise InvalidModel(
            f"unknown model provider {provider!r} in {spec!r}; {hint}known providers: "
            + ", ".join(sorted(known))
        )
    from langchain.chat_models import base

    module = base._BUILTIN_PROVIDERS[provider][0]
    extra = _PROVIDER_PACKAGES.get(provider, (module, None))[1]
    if importlib.util.find_spec(module.split(".")[0]) is None:
        hint = (
            f"pip install 'ahora[{extra}]'" if extra else f"pip install {module.replace('_', '-')}"
        )
        raise ProviderNotInstalled(f"the {provider} provider is not installed: {hint}")
    return provider, name


def resolve_model(
    model: str | BaseChatModel | None = None, *, settings: Settings | None = None
) -> BaseChatModel:
    """A LangChain chat model from an instance, a spec string, or the environment."""
    from langchain_core.language_models import BaseChatModel

    if isinstance(model, BaseChatModel):
        return model
    if model is not None and not isinstance(model, str):
        raise InvalidModel(
            "model must be a 'provider:name' string or a LangChain chat model, "
            f"not {type(model).__name__}"
        )
    s = settings or get_settings()
    base_url: str | None = None
    if model is None:
        choice = choose_model(s)
        if choice.probe is not None and choice.probe.redirect_refused:
            raise ModelUnavailable(f"the model server is misconfigured: {choice.probe.error}")
        spec, base_url = choice.spec, choice.base_url
    else:
        spec = model
    provider, name = check_spec(spec)
    return _build(provider, name, s, base_url)


def _build(provider: str, name: str, s: Settings, base_url: str | None) -> BaseChatModel:
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {}
    key_var = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}.get(provider)
    if key_var and not (s.openai_api_key if provider == "openai" else s.anthropic_api_key):
        raise NoModelConfigured(
            f"the {provider} provider needs {key_var} (for an OpenAI-compatible server that "
            "ignores keys, any value will do, with OPENAI_BASE_URL pointing at it)"
        )
    if provider == "openai":
        kwargs.update(timeout=s.model_timeout, max_retries=s.model_max_retries, stream_usage=True)
        if s.openai_api_key:
            kwargs["api_key"] = s.openai_api_key
        if base_url or s.openai_base_url:
            kwargs["base_url"] = base_url or s.openai_base_url
    elif provider == "anthropic":
        kwargs.update(timeout=s.model_timeout, max_retries=s.model_max_retries)
        if s.anthropic_api_key:
            kwargs["api_key"] = s.anthropic_api_key
    elif provider == "ollama":
        kwargs["base_url"] = s.ollama_host
    chat: BaseChatModel = init_chat_model(name, model_provider=provider, **kwargs)
    return chat


def model_label(model: BaseChatModel) -> str:
    """A short 'provider:name' style label for footers and --json."""
    for attr in ("model_name", "model", "model_id"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__


_UNAVAILABLE = {
    "InternalServerError",
    "APIConnectionError",
    "APITimeoutError",
    "RateLimitError",
    "ServiceUnavailableError",
    "OverloadedError",
}


def is_auth_error(exc: BaseException) -> bool:
    """A rejected key: retrying or falling back to another model will not help."""
    name = type(exc).__name__
    return name in {"AuthenticationError", "PermissionDeniedError"} or (
        getattr(exc, "status_code", None) == 401
    )


def translate_model_error(exc: BaseException) -> Exception | None:
    """Provider errors the user must act on, as ahora errors (None: not one of those)."""
    name = type(exc).__name__
    if is_auth_error(exc):
        return ModelAuthenticationError(
            f"the model provider rejected the credentials ({name}): check the API key "
            "(OPENAI_API_KEY / ANTHROPIC_API_KEY) and, for OpenAI-compatible servers, "
            "OPENAI_BASE_URL"
        )
    status = getattr(exc, "status_code", None)
    # By class lineage, not name alone: langchain-openai re-raises the SDK's errors as
    # subclasses (OpenAIConnectionError is an openai.APIConnectionError).
    lineage = {cls.__name__ for cls in type(exc).__mro__}
    if "APITimeoutError" in lineage:
        return ModelUnavailable(
            f"the model server{_at(exc)} did not answer in time (AHORA_MODEL_TIMEOUT)"
        )
    if "APIConnectionError" in lineage:
        return ModelUnavailable(
            f"cannot reach the model server{_at(exc)} ({exc}); is it running, and is the "
            "URL right (OPENAI_BASE_URL, OLLAMA_HOST)?"
        )
    if lineage & _UNAVAILABLE or (isinstance(status, int) and status >= 500):
        detail = f"HTTP {status}" if status else name
        return ModelUnavailable(
            f"the model provider is not answering ({detail}), even after retries: try "
            "again later, or give a fallback model (--fallback provider:name)"
        )
    return None


def _at(exc: BaseException) -> str:
    """ " at URL" for a provider error that carries its request (OpenAI's do), else ""."""
    url = getattr(getattr(exc, "request", None), "url", None)
    if url is None:
        return ""
    from urllib.parse import urlsplit

    parts = urlsplit(str(url))
    return f" at {mask_url(f'{parts.scheme}://{parts.netloc}{parts.path}')}" if parts.netloc else ""
