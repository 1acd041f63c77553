"""The import lines of Microsoft's public Azure ML v1 notebooks and scripts, with `azureml` replaced
by `tailrun` (tests/sdk/data/v1_import_lines.txt), all import; the cloud-only names among them
(compute clusters, web services, images, datasets, datastores, key vaults) raise one clear line
when used; the credential classes are accepted by Workspace and ignored."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tailrun import Experiment, Run, Workspace
from tailrun.cloud_only import COMPUTE, DATA, DEPLOYMENT, SECRETS
from tailrun.core.authentication import (AzureCliAuthentication, InteractiveLoginAuthentication,
                                         MsiAuthentication, ServicePrincipalAuthentication, TokenAuthentication)
from tailrun.core.compute import AksCompute, AmlCompute, ComputeInstance, ComputeTarget
from tailrun.core.compute_target import ComputeTargetException
from tailrun.exceptions import AuthenticationException, UserErrorException, WebserviceException

LINES_FILE = Path(__file__).parent / "data" / "v1_import_lines.txt"

# Runs each line on its own (a fresh namespace each) in one fresh interpreter; prints the
# failures and the modules loaded, as JSON.
_PROBE = """
import json, sys, traceback
failures = []
count = 0
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    count += 1
    try:
        exec(line, {})
    except BaseException as exc:
        failures.append(f"{line}\\n    {type(exc).__name__}: {exc}")
print(json.dumps({"count": count, "failures": failures, "modules": sorted(sys.modules)}))
"""


def test_every_v1_import_line_imports_in_a_fresh_interpreter() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE, str(LINES_FILE)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["count"] >= 100, "the data file was not read"
    assert result["failures"] == [], "these v1 import lines fail:\n" + "\n".join(result["failures"])
    # Importing the whole surface pulls in no service, UI or database code.
    heavy = [m for m in result["modules"] if m.split(".")[0] in ("tailrun_service", "tailrun_tui", "sqlalchemy")]
    assert heavy == []


def test_cloud_only_modules_load_no_grpc() -> None:
    probe = ("import json, sys\n"
             "from tailrun.core.compute import ComputeTarget, AmlCompute\n"
             "from tailrun.core.webservice import AciWebservice, Webservice\n"
             "from tailrun.core.model import InferenceConfig, Model\n"
             "from tailrun.core import Dataset, Datastore, Keyvault, Image\n"
             "from tailrun.core.authentication import InteractiveLoginAuthentication\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('grpc', 'google.protobuf')))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


# ---------------------------------------------------------------------- cloud-only: one clear line

def _uses():
    from tailrun.core import Dataset, Datastore, Image, Keyvault
    from tailrun.core.image import ContainerImage
    from tailrun.core.model import InferenceConfig, Model
    from tailrun.core.webservice import AciWebservice, AksWebservice, LocalWebservice, Webservice

    compute, deploy, data = (ComputeTargetException, COMPUTE), (WebserviceException, DEPLOYMENT), \
        (UserErrorException, DATA)
    return [
        ("AmlCompute.provisioning_configuration",
         lambda: AmlCompute.provisioning_configuration(vm_size="STANDARD_NC6", max_nodes=4), *compute),
        ("ComputeTarget.create", lambda: ComputeTarget.create(None, "gpu-cluster", None), *compute),
        ("ComputeTarget.attach", lambda: ComputeTarget.attach(None, "vm", None), *compute),
        ("AmlCompute", lambda: AmlCompute(None, "cpu-cluster"), *compute),
        ("AmlCompute.create", lambda: AmlCompute.create(None, name="c", provisioning_configuration=None), *compute),
        ("ComputeInstance.provisioning_configuration",
         lambda: ComputeInstance.provisioning_configuration(vm_size="STANDARD_D3_V2"), *compute),
        ("AksCompute.provisioning_configuration", lambda: AksCompute.provisioning_configuration(), *compute),
        ("AciWebservice.deploy_configuration",
         lambda: AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1), *deploy),
        ("AksWebservice.deploy_configuration", lambda: AksWebservice.deploy_configuration(), *deploy),
        ("LocalWebservice.deploy_configuration", lambda: LocalWebservice.deploy_configuration(port=8890), *deploy),
        ("Webservice", lambda: Webservice(None, "aci-birds"), *deploy),
        ("InferenceConfig", lambda: InferenceConfig(entry_script="score.py", environment=None), *deploy),
        ("Model.deploy", lambda: Model.deploy(None, "aci-birds", [], None, None), *deploy),
        ("Model.package", lambda: Model.package(None, []), *deploy),
        ("ContainerImage.image_configuration",
         lambda: ContainerImage.image_configuration(execution_script="score.py", runtime="python"), *deploy),
        ("Image", lambda: Image(None, name="img"), *deploy),
        ("Dataset.Tabular.from_delimited_files",
         lambda: Dataset.Tabular.from_delimited_files(path="https://example.org/iris.csv"), *data),
        ("Dataset.File.from_files", lambda: Dataset.File.from_files(path=["x"]), *data),
        ("Dataset.get_by_name", lambda: Dataset.get_by_name(None, name="mnist"), *data),
        ("Datastore.get", lambda: Datastore.get(None, "workspaceblobstore"), *data),
        ("Keyvault", lambda: Keyvault(None), UserErrorException, SECRETS),
    ]


@pytest.mark.parametrize("what, use, error, reason", _uses(), ids=[u[0] for u in _uses()])
def test_using_a_cloud_only_name_raises_one_line_naming_the_alternative(what, use, error, reason) -> None:
    with pytest.raises(error) as caught:
        use()
    assert str(caught.value) == f"{what}: {reason}"
    assert "\n" not in str(caught.value)


def test_cloud_only_classes_behave_as_classes() -> None:
    assert isinstance(AmlCompute, type) and not isinstance(object(), AmlCompute)
    assert AmlCompute.__module__ == "tailrun.core.compute" and "tailrun creates no cloud compute" in AmlCompute.__doc__
    # tools that probe private or dunder attributes (IPython display, pickle, copy) see nothing
    assert not hasattr(AmlCompute, "_repr_html_") and not hasattr(AmlCompute, "__wrapped__")
    assert not hasattr(AmlCompute.provisioning_configuration, "_ipython_display_")
    assert "not available in tailrun" in repr(AmlCompute.provisioning_configuration)


def test_the_create_or_attach_cell_says_what_to_do(ws) -> None:
    """Every v1 training notebook's compute cell, against a real service: the name is looked up
    among the service's targets; an unknown one falls through to AmlCompute, which says what to do."""
    with pytest.raises(ComputeTargetException) as caught:
        try:
            compute_target = ComputeTarget(workspace=ws, name="gpu-cluster")
        except ComputeTargetException:
            compute_config = AmlCompute.provisioning_configuration(vm_size="STANDARD_NC6", max_nodes=4)
            compute_target = ComputeTarget.create(ws, "gpu-cluster", compute_config)
    assert str(caught.value) == f"AmlCompute.provisioning_configuration: {COMPUTE}"

    compute_target = ComputeTarget(workspace=ws, name="local")
    compute_target.wait_for_completion(show_output=True)
    status = compute_target.get_status()
    assert status == "Succeeded"
    assert status.serialize() == {"provisioningState": "Succeeded", "statusDetail": compute_target.status_detail}


def test_workspace_cloud_resources_are_empty_or_say_what_to_do(ws) -> None:
    assert (ws.webservices, ws.datastores, ws.datasets) == ({}, {}, {})
    with pytest.raises(UserErrorException, match="^Workspace.get_default_datastore: tailrun has no datasets"):
        ws.get_default_datastore()
    with pytest.raises(UserErrorException, match="^Workspace.get_default_keyvault: tailrun has no key vault"):
        ws.get_default_keyvault()


# ---------------------------------------------------------------------- credentials: accepted, ignored

def _log_and_read(ws: Workspace, experiment: str) -> dict:
    run = Experiment(ws, experiment).start_logging()
    run.log("accuracy", 0.9)
    run.complete()
    run.flush()
    return Run.get(ws, run.id).get_metrics()


def test_every_credential_is_accepted_and_the_service_token_is_used(service_factory, monkeypatch, tmp_path) -> None:
    from recorder_reset import reset_recorder

    service = service_factory(token="the-service-token")
    monkeypatch.setenv("TAILRUN_ADDRESS", service.address)
    monkeypatch.setenv("TAILRUN_TOKEN", service.token)
    monkeypatch.chdir(tmp_path)
    reset_recorder()
    try:
        secret = "sp-password-123"
        sp = ServicePrincipalAuthentication(tenant_id="tenant", service_principal_id="app",
                                            service_principal_password=secret)
        ws = Workspace("00000000-0000-0000-0000-000000000000", "my-rg", "my-ws", auth=sp)
        assert (ws.name, ws.resource_group) == ("my-ws", "my-rg")
        assert _log_and_read(ws, "auth-sp") == {"accuracy": 0.9}
        assert secret not in repr(vars(sp)) and secret not in repr(sp)

        ws.write_config()
        from_config = Workspace.from_config(auth=InteractiveLoginAuthentication(tenant_id="tenant"))
        assert from_config.name == "my-ws"
        assert _log_and_read(from_config, "auth-interactive") == {"accuracy": 0.9}

        fetched = Workspace.get("my-ws", auth=AzureCliAuthentication(), subscription_id="sub", resource_group="rg")
        assert (fetched.name, fetched.subscription_id) == ("my-ws", "sub")
        assert _log_and_read(fetched, "auth-cli") == {"accuracy": 0.9}

        for auth in (MsiAuthentication(), TokenAuthentication(lambda audience: "never called")):
            assert Workspace(subscription_id="s", resource_group="r", workspace_name="w", auth=auth).name == "w"
    finally:
        reset_recorder()


def test_azure_tokens_are_refused_in_one_line() -> None:
    with pytest.raises(AuthenticationException) as caught:
        InteractiveLoginAuthentication().get_authentication_header()
    assert str(caught.value) == (
        "InteractiveLoginAuthentication.get_authentication_header: tailrun has no Azure tokens: the tailrun "
        "service's token (TAILRUN_TOKEN) is the credential, and Workspace sends it itself")


def test_workspace_create_warns_and_returns_the_configured_service(service, monkeypatch) -> None:
    monkeypatch.setenv("TAILRUN_ADDRESS", service.address)
    with pytest.warns(UserWarning, match="Workspace.create makes no Azure workspace"):
        ws = Workspace.create(name="new-ws", subscription_id="sub", resource_group="rg", create_resource_group=True,
                              location="eastus2", exist_ok=True)
    assert (ws.name, ws.subscription_id, ws.resource_group, ws.address) == ("new-ws", "sub", "rg", service.address)


def test_set_diagnostics_collection_says_nothing_is_sent(capsys) -> None:
    from tailrun.telemetry import set_diagnostics_collection

    set_diagnostics_collection(send_diagnostics=True)
    set_diagnostics_collection(send_diagnostics=False)
    assert capsys.readouterr().out == "tailrun collects no diagnostics: nothing is sent\n"


def test_container_registry_is_accepted_and_not_stored() -> None:
    from tailrun.core import ContainerRegistry, Environment

    env = Environment("custom")
    env.docker.base_image = "mycustomimage:1.0"
    env.docker.base_image_registry.address = "myregistry.azurecr.io"
    env.docker.base_image_registry.password = "registry-password"
    registry = ContainerRegistry()
    registry.address = "other.azurecr.io"
    from_image = Environment.from_docker_image("img", "mycustomimage:1.0", container_registry=registry)
    assert from_image.docker.base_image_registry is registry
    assert "registry-password" not in json.dumps(env._to_dict())
