"""The recipe of an agent: model, tools, instructions, approvals and budget, resolved once.

One precedence for every part of it::

    command-line flag or argument > the chosen profile > environment > config file > default

``Choices`` is the top layer: what the caller asked for explicitly (a CLI flag, an
argument to ``Agent``/``create_agent``), None where nothing was asked. The profile is
the next layer; ``Settings`` already holds the three lower ones (environment over
config file over defaults). ``resolve_recipe`` reads the profile file once and
returns a frozen ``Recipe`` that ``create_agent``, ``Agent`` and the CLI session all
consume; chat's ``/model`` and ``/agent`` change the choices with
``dataclasses.replace`` and resolve again.

Each recipe records where every value came from (``origins``): ``"argument"``,
``"profile"`` or ``"settings"`` (``ahora config show --agent`` splits the last into
environment, config file and default).

Light imports only: the CLI builds recipes before LangChain is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ahora.budget import Budget
from ahora.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool

    from ahora.profiles import Profile

__all__ = ["Budget", "Choices", "Layer", "Recipe", "resolve_recipe"]

Layer = Literal["argument", "profile", "settings"]


@dataclass(frozen=True, kw_only=True)
class Choices:
    """The caller's explicit choices, the top layer; None means "not chosen here".

    ``instructions`` are added after the profile's rather than replacing them.
    """

    profile: str | None = None
    model: str | BaseChatModel | None = None
    tools: Sequence[BaseTool | Callable[..., Any] | str] | None = None
    instructions: str | None = None
    approvals: Sequence[str] | None = None
    max_steps: int | None = None
    max_tokens: int | None = None
    max_cost: float | None = None
    timeout: float | None = None
    fallbacks: Sequence[str | BaseChatModel] | None = None


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """Everything that makes one agent, resolved. ``tools=None`` means every available
    tool; ``model=None`` means the one detected from the environment."""

    model: str | BaseChatModel | None = None
    tools: tuple[BaseTool | Callable[..., Any] | str, ...] | None = None
    instructions: str | None = None
    approvals: tuple[str, ...] = ()
    budget: Budget = field(default_factory=Budget)
    fallbacks: tuple[str | BaseChatModel, ...] = ()
    profile: Profile | None = None
    output: Any = None
    """The answer's type when the profile names one (``Agent(output=...)`` overrides)."""
    origins: Mapping[str, Layer] = field(default_factory=dict)
    """Where each value came from: keys ``model``, ``tools``, ``instructions``,
    ``approvals``, ``budget.steps``, ``budget.tokens``, ``budget.cost``,
    ``budget.seconds`` and ``fallbacks``."""


def resolve_recipe(choices: Choices, settings: Settings) -> Recipe:
    """Apply the precedence: ``choices`` > the profile they name > ``settings``.

    Raises ``InvalidProfile`` for a missing or malformed profile and ``InvalidSettings``
    for a budget that is not positive.
    """
    profile = None
    if choices.profile is not None:
        from ahora.profiles import load_profile

        profile = load_profile(choices.profile, settings=settings)
    origins: dict[str, Layer] = {}

    def pick(key: str, chosen: Any, from_profile: Any, from_settings: Any) -> Any:
        if chosen is not None:
            origins[key] = "argument"
            return chosen
        if from_profile is not None:
            origins[key] = "profile"
            return from_profile
        origins[key] = "settings"
        return from_settings

    def of_profile(name: str) -> Any:
        return getattr(profile, name) if profile is not None else None

    s = settings
    model = pick("model", choices.model, of_profile("model"), s.model)
    tools = pick("tools", _listed("tools", choices.tools), _tuple(of_profile("tools")), None)
    budget = Budget(
        steps=pick("budget.steps", choices.max_steps, of_profile("max_steps"), s.max_steps),
        tokens=pick("budget.tokens", choices.max_tokens, of_profile("max_tokens"), s.max_tokens),
        cost=pick("budget.cost", choices.max_cost, of_profile("max_cost"), s.max_cost),
        seconds=pick("budget.seconds", choices.timeout, of_profile("timeout"), s.timeout),
    )
    approvals = pick(
        "approvals",
        _listed("approvals", choices.approvals),
        _profile_approvals(profile, choices),
        (),
    )
    own = profile.system_instructions() if profile is not None else None
    instructions = "\n\n".join(x for x in (own, choices.instructions) if x)
    origins["instructions"] = (
        "argument" if choices.instructions else "profile" if own else "settings"
    )
    fallbacks = pick("fallbacks", _tuple(choices.fallbacks), None, tuple(settings.fallback_models))
    return Recipe(
        model=model,
        tools=tools,
        instructions=instructions or None,
        approvals=approvals,
        budget=budget,
        fallbacks=fallbacks,
        profile=profile,
        output=profile.output if profile is not None else None,
        origins=origins,
    )


def _tuple(items: Sequence[Any] | None) -> tuple[Any, ...] | None:
    return None if items is None else tuple(items)


def _listed(name: str, items: Sequence[Any] | None) -> tuple[Any, ...] | None:
    """A list argument as a tuple; a bare string or a non-list is the caller's mistake."""
    if items is None:
        return None
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        from ahora.errors import InvalidTool

        what = "tools, callables or tool names" if name == "tools" else "tool names"
        raise InvalidTool(f"{name} must be a list of {what}")
    return tuple(items)


def _profile_approvals(profile: Profile | None, choices: Choices) -> tuple[str, ...] | None:
    """The profile's gated tools; when the caller chose the tools, those among them."""
    if profile is None or not profile.approval:
        return None
    if choices.tools is None:
        return tuple(profile.approval)
    # A tool object by its name, a plain function by the name it becomes a tool under.
    chosen = {
        t if isinstance(t, str) else getattr(t, "name", None) or getattr(t, "__name__", None)
        for t in choices.tools
    }
    return tuple(name for name in profile.approval if name in chosen)
