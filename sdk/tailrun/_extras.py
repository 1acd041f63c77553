"""Optional libraries: import one, or say which tailrun extra installs it.

Export, import and the MLflow plugin use libraries the SDK does not depend on (pandas, pyarrow,
tensorboard, mlflow). They are imported on first use only; a missing one raises `MissingExtra`,
an ImportError whose message names the extra to install.
"""
from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtra(ImportError):
    """An optional library is not installed; the message says `pip install 'tailrun[EXTRA]'`."""


def require(module: str, extra: str, what: str) -> ModuleType:
    """`importlib.import_module(module)`, or MissingExtra naming `extra` and what needed it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        if exc.name and exc.name.split(".")[0] != top:
            raise  # the library is there but broken: its own error says more
        raise MissingExtra(f"{what} needs {top}, which is not installed: "
                           f"pip install 'tailrun[{extra}]'", name=exc.name) from None
