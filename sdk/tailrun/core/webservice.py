"""Azure ML's `azureml.core.webservice`: importable; tailrun deploys no web services, so using these
classes raises WebserviceException saying what to do instead (see tailrun.cloud_only)."""
from __future__ import annotations

from ..cloud_only import AciWebservice, AksEndpoint, AksWebservice, LocalWebservice, Webservice

__all__ = ["Webservice", "AciWebservice", "AksWebservice", "LocalWebservice", "AksEndpoint"]
