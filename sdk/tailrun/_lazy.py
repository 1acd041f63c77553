"""Module attributes loaded on first use (PEP 562), so that importing a package stays cheap."""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(module_globals: dict[str, Any], exports: dict[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for a module whose names in `exports` (name -> module that
    defines it) are imported when first read, then cached in the module's globals."""
    module_name = module_globals["__name__"]

    def __getattr__(name: str) -> Any:
        source = exports.get(name)
        if source is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        module_globals[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(module_globals) | set(module_globals.get("__all__", ())) | set(exports))

    return __getattr__, __dir__
