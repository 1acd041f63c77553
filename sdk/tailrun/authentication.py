"""Azure ML's credential classes (`azureml.core.authentication`), accepted and ignored.

A tailrun workspace is a service, and the service's token (TAILRUN_TOKEN, or `Workspace(token=...)`)
is the only credential it needs. So `Workspace(subscription_id, resource_group, name, auth=...)`,
`Workspace.from_config(auth=...)` and `Workspace.get(name, auth=...)` accept any of these objects
and connect with the service's token; constructing them never signs in anywhere, and they keep no
secret (a service principal's password is not stored). `get_authentication_header()` (an Azure AD
bearer token for Azure's REST APIs) has no tailrun equivalent and says so.
"""
from __future__ import annotations

from typing import Any, Callable

from .exceptions import AuthenticationException

__all__ = ["AbstractAuthentication", "InteractiveLoginAuthentication", "ServicePrincipalAuthentication",
           "AzureCliAuthentication", "MsiAuthentication", "TokenAuthentication"]

_NO_AZURE_TOKENS = ("tailrun has no Azure tokens: the tailrun service's token (TAILRUN_TOKEN) is the "
                    "credential, and Workspace sends it itself")


class AbstractAuthentication:
    """The base of Azure ML's credential classes. Accepted by `Workspace(auth=...)` and ignored
    there: the tailrun service's token is the credential."""

    def __init__(self, cloud: str | None = None) -> None:
        self.cloud = cloud or "AzureCloud"

    def get_authentication_header(self) -> dict[str, str]:
        """Azure's bearer-token header: not available (raises AuthenticationException saying why)."""
        raise AuthenticationException(f"{type(self).__name__}.get_authentication_header: {_NO_AZURE_TOKENS}")

    def get_token(self, *scopes: Any, **kwargs: Any) -> Any:
        """Azure's access token: not available (raises AuthenticationException saying why)."""
        raise AuthenticationException(f"{type(self).__name__}.get_token: {_NO_AZURE_TOKENS}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}() (ignored by tailrun: the service's token is the credential)"


class InteractiveLoginAuthentication(AbstractAuthentication):
    """Azure's browser sign-in: accepted and ignored (no sign-in happens)."""

    def __init__(self, force: bool = False, tenant_id: str | None = None, cloud: str | None = None) -> None:
        super().__init__(cloud)
        self.tenant_id = tenant_id


class ServicePrincipalAuthentication(AbstractAuthentication):
    """A service principal: accepted and ignored; the password is not kept."""

    def __init__(self, tenant_id: str, service_principal_id: str, service_principal_password: str | None = None,
                 cloud: str = "AzureCloud", _enable_caching: bool = True) -> None:
        super().__init__(cloud)
        self.tenant_id = tenant_id
        self.service_principal_id = service_principal_id


class AzureCliAuthentication(AbstractAuthentication):
    """The Azure CLI's signed-in account: accepted and ignored."""


class MsiAuthentication(AbstractAuthentication):
    """A managed identity: accepted and ignored."""

    def __init__(self, cloud: str | None = None, identity_config: dict[str, Any] | None = None) -> None:
        super().__init__(cloud)
        self.identity_config = dict(identity_config or {})


class TokenAuthentication(AbstractAuthentication):
    """A caller-supplied Azure token function: accepted and ignored (never called)."""

    def __init__(self, get_token_for_audience: Callable[..., Any], cloud: str | None = None) -> None:
        super().__init__(cloud)
        self.get_token_for_audience = get_token_for_audience
