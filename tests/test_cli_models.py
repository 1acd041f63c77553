"""`tailrun models` (list, show, download) as real `python -m tailrun.cli` processes against a real
service, with models registered by a real SDK process."""
from __future__ import annotations

import subprocess
import sys
import textwrap

REGISTER = textwrap.dedent("""
    import pathlib
    from tailrun import Workspace, Experiment, Model
    ws = Workspace()
    pathlib.Path("m.pkl").write_bytes(b"weights")
    pathlib.Path("outputs").mkdir()
    pathlib.Path("outputs/net.bin").write_bytes(b"net-v1")
    Model.register(ws, "m.pkl", "clf", tags={"stage": "dev"})
    Model.register(ws, "m.pkl", "clf", tags={"stage": "prod", "owner": "ann"}, description="the good one")
    run = Experiment(ws, "cli-models").start_logging()
    run.register_model("net", "outputs/net.bin", tags={"evil": "\\x1b[2J"})
    run.complete()
    print(run.id)
""")


def cli(service, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tailrun.cli", "models", *args, "--address", service.address],
                          capture_output=True, text=True, timeout=60)


def test_models_list_show_and_download(service, run_script, tmp_path):
    done = run_script(REGISTER)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]

    listed = cli(service)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "RUN", "CREATED", "TAGS"]
    assert [line.split()[:3] for line in lines[1:]] == [["clf", "2", "-"], ["clf", "1", "-"], ["net", "1", run_id]]
    assert "owner=ann, stage=prod" in lines[1] and "evil=\\x1b[2J" in lines[3] and "\x1b" not in listed.stdout

    assert [l.split()[0] for l in cli(service, "--latest").stdout.splitlines()[1:]] == ["clf", "net"]
    assert [l.split()[:2] for l in cli(service, "--tag", "stage=dev").stdout.splitlines()[1:]] == [["clf", "1"]]
    assert [l.split()[:2] for l in cli(service, "--tag", "owner").stdout.splitlines()[1:]] == [["clf", "2"]]
    assert [l.split()[0] for l in cli(service, "--run", run_id).stdout.splitlines()[1:]] == ["net"]
    assert cli(service, "--name", "zzz").stdout == "no models match\n"

    shown = cli(service, "show", "clf")
    assert shown.returncode == 0, shown.stderr
    assert "Version:     2" in shown.stdout and "Description: the good one" in shown.stdout
    assert "Files (1, 7 bytes):" in shown.stdout and "m.pkl  7" in shown.stdout
    net = cli(service, "show", "net:1").stdout
    assert f"Run:         {run_id}" in net and "Model path:  outputs/net.bin" in net and "Experiment:  cli-models" in net

    target = tmp_path / "dl"
    got = cli(service, "download", "clf:1", str(target))
    assert got.returncode == 0, got.stderr
    assert got.stdout == f"downloaded clf:1 to {target / 'm.pkl'}\n" and (target / "m.pkl").read_bytes() == b"weights"
    again = cli(service, "download", "clf:1", str(target))
    assert again.returncode == 1 and "File already exists. To overwrite, set exist_ok to True." in again.stderr
    assert cli(service, "download", "clf:1", str(target), "--overwrite").returncode == 0

    missing = cli(service, "show", "clf:9")
    assert missing.returncode == 1
    assert missing.stderr == "tailrun models: ModelNotFound: model 'clf' has no version 9; its versions are 1, 2\n"
    bad = cli(service, "show", "clf:x")
    assert bad.returncode != 0 and "NAME:VERSION" in bad.stderr
