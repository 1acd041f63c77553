"""Azure ML's `azureml.core`: `from tailrun.core import Workspace, Experiment, Run, ...`.

A package whose submodules mirror azureml.core's (`tailrun.core.run`, `.workspace`,
`.experiment`, `.runconfig`, `.script_run_config`, `.script_run`, `.environment`,
`.conda_dependencies`, `.compute`, `.compute_target`, `.model`, `.authentication`,
`.container_registry`, and for cloud-only resources `.webservice`, `.image`, `.dataset`, `.datastore`,
`.keyvault`: see tailrun.cloud_only), so that `from azureml.core.run import Run`
style imports work after replacing `azureml` with `tailrun`. The classes themselves live in the
tailrun modules and are loaded on first use, so `import tailrun.core` stays cheap.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import __version__ as VERSION
from .._lazy import lazy_exports

_LAZY = {"Workspace": "tailrun.workspace", "Experiment": "tailrun.experiment", "Run": "tailrun.run",
         "ScriptRunConfig": "tailrun.script_run", "ScriptRun": "tailrun.script_run",
         "RunConfiguration": "tailrun.runconfig", "Environment": "tailrun.environment",
         "ComputeTarget": "tailrun.compute", "Model": "tailrun.model",
         "ContainerRegistry": "tailrun.environment",
         # cloud resources: importable, using them raises a one-line error (tailrun.cloud_only)
         "Dataset": "tailrun.cloud_only", "Datastore": "tailrun.cloud_only", "Keyvault": "tailrun.cloud_only",
         "Webservice": "tailrun.cloud_only", "Image": "tailrun.cloud_only"}
__all__ = ["VERSION", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    from ..cloud_only import Dataset, Datastore, Image, Keyvault, Webservice
    from ..compute import ComputeTarget
    from ..environment import ContainerRegistry, Environment
    from ..experiment import Experiment
    from ..model import Model
    from ..run import Run
    from ..runconfig import RunConfiguration
    from ..script_run import ScriptRun, ScriptRunConfig
    from ..workspace import Workspace


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
