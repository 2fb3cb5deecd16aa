"""Errors live in one module, typed by who must act, and the tree in its docstring is true."""

from __future__ import annotations

import importlib
import inspect

import pytest

from ahora import errors

MOVED = [
    ("ahora.threads", "ThreadNotFound", errors.ConfigurationError),
    ("ahora.docs.index", "NotAFolder", errors.ConfigurationError),
    ("ahora.docs.embeddings", "EmbeddingsUnavailable", errors.ConfigurationError),
    ("ahora.search.chain", "SearchUnavailable", errors.ToolFailure),
    ("ahora.search.base", "BackendError", errors.ToolFailure),
    ("ahora.search.base", "RateLimited", errors.ToolFailure),
]


@pytest.mark.parametrize(("module", "name", "base"), MOVED)
def test_errors_are_defined_in_errors_and_re_exported_where_used(
    module: str, name: str, base: type[Exception]
) -> None:
    cls = getattr(errors, name)
    assert cls.__module__ == "ahora.errors"
    assert getattr(importlib.import_module(module), name) is cls
    assert issubclass(cls, base)


def test_every_error_class_is_public_and_in_the_tree() -> None:
    classes = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == errors.__name__
    }
    assert classes == set(errors.__all__)
    tree = errors.__doc__ or ""
    for name in classes:
        assert name in tree, name


def test_no_other_module_defines_an_ahora_error() -> None:
    import pkgutil

    import ahora

    for info in pkgutil.walk_packages(ahora.__path__, "ahora."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed
            continue
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, errors.AhoraError):
                assert obj.__module__ == "ahora.errors", f"{obj.__name__} in {info.name}"
