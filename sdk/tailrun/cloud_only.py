"""Azure ML classes that stand for cloud resources tailrun does not create: clusters, web services,
images, datasets, datastores, key vaults.

They exist so that a v1 notebook's imports work (notebooks import everything at the top, also for
the cells that create cloud resources). Using one — constructing it, calling any of its class
methods such as `AmlCompute.provisioning_configuration(...)` or `Dataset.Tabular.from_files(...)` —
raises the Azure ML exception of that area with one line that says what tailrun offers instead.
`isinstance` checks and `except` clauses work as usual.

`cloud_only(...)` makes such a class; `unavailable(...)` is the error, for methods of real
classes that would create cloud resources (`ComputeTarget.create`, `Model.deploy`).
"""
from __future__ import annotations

import importlib
from typing import Any

COMPUTE = ("tailrun creates no cloud compute: name a Slurm partition in the service's --compute-config, "
           "or use 'local'; look configured targets up with ComputeTarget(workspace, name)")
DEPLOYMENT = ("tailrun deploys no models and builds no images: download a registered model with "
              "Model(workspace, name).download() and serve it yourself")
DATA = ("tailrun has no datasets or datastores: pass data paths to the script in its arguments and "
        "write results under ./outputs")
SECRETS = ("tailrun has no key vault: give the script its secrets as environment variables "
           "(RunConfiguration.environment_variables)")

__all__ = ["COMPUTE", "DEPLOYMENT", "DATA", "SECRETS", "cloud_only", "unavailable",
           "AmlCompute", "ComputeInstance", "AksCompute", "DatabricksCompute", "HDInsightCompute",
           "RemoteCompute", "BatchCompute", "DataFactoryCompute", "AdlaCompute", "KubernetesCompute",
           "SynapseCompute", "Webservice", "AciWebservice", "AksWebservice", "LocalWebservice",
           "AksEndpoint", "InferenceConfig", "Image", "ContainerImage", "Dataset", "Datastore", "Keyvault"]


def unavailable(what: str, reason: str, exception: str) -> Exception:
    """The one-line error for `what` (e.g. "AmlCompute.provisioning_configuration"), as the
    `tailrun.exceptions` class named `exception` (loaded only now: importing this module stays cheap)."""
    error_class = getattr(importlib.import_module("tailrun.exceptions"), exception)
    return error_class(f"{what}: {reason}")


class _Unavailable:
    """Any attribute of a cloud-only class (also nested, `Dataset.Tabular.from_files`): calling it
    raises the class's error."""

    __slots__ = ("_what", "_reason", "_exception")

    def __init__(self, what: str, reason: str, exception: str) -> None:
        self._what, self._reason, self._exception = what, reason, exception

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise unavailable(self._what, self._reason, self._exception)

    def __getattr__(self, name: str) -> "_Unavailable":
        if name.startswith("_"):   # dunders and tool probes (IPython's _repr_html_, ...) stay normal
            raise AttributeError(name)
        return _Unavailable(f"{self._what}.{name}", self._reason, self._exception)

    def __repr__(self) -> str:
        return f"<{self._what}: not available in tailrun>"


class _CloudOnly(type):
    """The metaclass: constructing raises; a missing class attribute is an `_Unavailable`."""

    _reason: str
    _exception: str

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise unavailable(cls.__name__, cls._reason, cls._exception)

    def __getattr__(cls, name: str) -> _Unavailable:
        if name.startswith("_"):
            raise AttributeError(name)
        return _Unavailable(f"{cls.__name__}.{name}", cls._reason, cls._exception)


def cloud_only(name: str, module: str, reason: str, exception: str) -> type:
    """A class named `name` (shown as `module.name`) whose use raises `exception` with `reason`."""
    doc = f"Azure ML's `{name}`, a cloud resource: {reason}. Importing it works; using it raises {exception}."
    return _CloudOnly(name, (), {"__module__": module, "__qualname__": name, "__doc__": doc,
                                 "_reason": reason, "_exception": exception})


def _compute(name: str) -> type:
    return cloud_only(name, "tailrun.core.compute", COMPUTE, "ComputeTargetException")


def _deployment(name: str, module: str) -> type:
    return cloud_only(name, module, DEPLOYMENT, "WebserviceException")


AmlCompute = _compute("AmlCompute")
ComputeInstance = _compute("ComputeInstance")
AksCompute = _compute("AksCompute")
DatabricksCompute = _compute("DatabricksCompute")
HDInsightCompute = _compute("HDInsightCompute")
RemoteCompute = _compute("RemoteCompute")
BatchCompute = _compute("BatchCompute")
DataFactoryCompute = _compute("DataFactoryCompute")
AdlaCompute = _compute("AdlaCompute")
KubernetesCompute = _compute("KubernetesCompute")
SynapseCompute = _compute("SynapseCompute")

Webservice = _deployment("Webservice", "tailrun.core.webservice")
AciWebservice = _deployment("AciWebservice", "tailrun.core.webservice")
AksWebservice = _deployment("AksWebservice", "tailrun.core.webservice")
LocalWebservice = _deployment("LocalWebservice", "tailrun.core.webservice")
AksEndpoint = _deployment("AksEndpoint", "tailrun.core.webservice")
InferenceConfig = _deployment("InferenceConfig", "tailrun.core.model")
Image = _deployment("Image", "tailrun.core.image")
ContainerImage = _deployment("ContainerImage", "tailrun.core.image")

Dataset = cloud_only("Dataset", "tailrun.core.dataset", DATA, "UserErrorException")
Datastore = cloud_only("Datastore", "tailrun.core.datastore", DATA, "UserErrorException")
Keyvault = cloud_only("Keyvault", "tailrun.core.keyvault", SECRETS, "UserErrorException")
