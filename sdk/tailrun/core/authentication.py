"""Azure ML's `azureml.core.authentication`: the credential classes, accepted by
`Workspace(..., auth=...)`, `Workspace.from_config(auth=...)` and `Workspace.get(auth=...)` and
ignored there (the tailrun service's token is the credential; see tailrun.authentication)."""
from __future__ import annotations

from ..authentication import (AbstractAuthentication, AzureCliAuthentication, InteractiveLoginAuthentication,
                              MsiAuthentication, ServicePrincipalAuthentication, TokenAuthentication)

__all__ = ["AbstractAuthentication", "InteractiveLoginAuthentication", "ServicePrincipalAuthentication",
           "AzureCliAuthentication", "MsiAuthentication", "TokenAuthentication"]
