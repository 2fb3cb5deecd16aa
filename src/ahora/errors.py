"""Error types, grouped by who must act.

    AhoraError
    ├── ConfigurationError        the developer or user must change something
    │   ├── NoModelConfigured     no model given and none found in the environment
    │   ├── ProviderNotInstalled  the provider's extra is not installed
    │   ├── InvalidModel          a model string or object that cannot be used
    │   ├── InvalidTool           something passed as a tool that is not one
    │   ├── InvalidProfile        a profile file that cannot be loaded
    │   ├── InvalidSettings       a setting with a value ahora cannot use
    │   ├── ThreadNotFound        no saved thread matches an id (or a prefix matches several)
    │   ├── NotAFolder            a folder to index that does not exist or is a file
    │   └── EmbeddingsUnavailable semantic search without the embeddings extra
    ├── ToolFailure               a tool could not do its job; its message is shown to the model
    │   ├── BlockedURL            read_page refused an address (SSRF guard)
    │   ├── RedirectRefused       a credentialed request was redirected to another origin
    │   ├── SearchUnavailable     every search backend failed or is backing off
    │   ├── BackendError          one search backend could not answer
    │   │   └── RateLimited       ... because it asked us to slow down
    │   └── WorkerFailure         the page-parsing worker process failed (worker.py)
    │       ├── WorkerTimeout     ... did not answer in time and was killed
    │       ├── WorkerCrashed     ... died or answered nonsense (C crash, out of memory)
    │       └── WorkerError       ... the parser raised (``kind``: its exception type)
    └── RunError                  a run could not finish
        ├── ModelAuthenticationError  the provider refused the credentials
        ├── ModelUnavailable          the provider kept failing (5xx, 429, network)
        ├── ThreadBusy                another turn is writing the same thread
        ├── StaleCheckpoint           the config names a checkpoint no longer kept
        └── ContextWindowExceeded     a turn does not fit the model's window, even shortened

Tools never let exceptions escape to the loop: middleware turns them into tool
messages. ``ToolFailure`` exists so tools can say *why* in words a model can act on.
"""

from __future__ import annotations

__all__ = [
    "AhoraError",
    "BackendError",
    "BlockedURL",
    "ConfigurationError",
    "ContextWindowExceeded",
    "EmbeddingsUnavailable",
    "InvalidModel",
    "InvalidProfile",
    "InvalidSettings",
    "InvalidTool",
    "ModelAuthenticationError",
    "ModelUnavailable",
    "NoModelConfigured",
    "NotAFolder",
    "ProviderNotInstalled",
    "RateLimited",
    "RedirectRefused",
    "RunError",
    "SearchUnavailable",
    "StaleCheckpoint",
    "ThreadBusy",
    "ThreadNotFound",
    "ToolFailure",
    "WorkerCrashed",
    "WorkerError",
    "WorkerFailure",
    "WorkerTimeout",
]


class AhoraError(Exception):
    """Base of every error ahora raises on purpose."""


class ConfigurationError(AhoraError):
    """Something the developer or user must change before ahora can run."""


class NoModelConfigured(ConfigurationError):
    """No model was given and none could be found in the environment."""


class ProviderNotInstalled(ConfigurationError):
    """The model provider needs an optional extra that is not installed."""


class InvalidModel(ConfigurationError):
    """A model string or object ahora cannot use."""


class InvalidTool(ConfigurationError):
    """Something passed as a tool is neither a LangChain tool nor a callable."""


class InvalidProfile(ConfigurationError):
    """A profile file is malformed; the message names the file and the field."""


class InvalidSettings(ConfigurationError):
    """A setting (env var or config file) has a value ahora cannot use."""


class ThreadNotFound(ConfigurationError):
    """No saved thread matches the id (or the prefix matches several)."""


class NotAFolder(ConfigurationError):
    """The path given to index does not exist or is not a directory."""


class EmbeddingsUnavailable(ConfigurationError):
    """The optional embedding model is not installed."""


class ToolFailure(AhoraError):
    """A tool could not do its job. The message is written for the model to read."""


class BlockedURL(ToolFailure):
    """The address is not allowed (private, loopback, metadata, non-http...)."""


class SearchUnavailable(ToolFailure):
    """Every backend failed; the message names each failure and what the model can do."""


class BackendError(ToolFailure):
    """A search backend could not answer; the message completes "<backend name> ..."."""


class RateLimited(BackendError):
    """The service asked us to slow down (HTTP 429/202, ddgs RatelimitException)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RunError(AhoraError):
    """A run could not finish."""


class ModelAuthenticationError(RunError):
    """The model provider rejected the credentials. Retrying will not help."""


class ModelUnavailable(RunError):
    """The model provider kept failing after retries (and fallbacks, if any)."""


class ThreadBusy(RunError):
    """Another turn (another process or machine) is answering on the same thread, or
    saved it while this one ran: going on would lose one of the two, so this turn
    stops instead. Try again once the other has finished."""


class StaleCheckpoint(RunError):
    """The config names a checkpoint the store no longer keeps (a newer one replaced
    it): continuing from it would silently start from an empty conversation."""


class ContextWindowExceeded(RunError):
    """A turn does not fit the model's context window even after shortening the history."""


class RedirectRefused(ToolFailure):
    """A request carrying a credential was redirected to another origin."""


class WorkerFailure(ToolFailure):
    """The page-parsing worker process (``ahora.worker``) failed."""


class WorkerTimeout(WorkerFailure):
    """The worker did not answer in time and was killed."""


class WorkerCrashed(WorkerFailure):
    """The worker died or answered nonsense (a crash in C code, or out of memory)."""


class WorkerError(WorkerFailure, RuntimeError):
    """The function raised in the worker: ``kind`` is the exception's type name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}" if kind else message)
        self.kind = kind
        self.message = message
