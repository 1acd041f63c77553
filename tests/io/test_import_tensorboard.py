"""`tailrun import tensorboard LOGDIR` against a real service: event files written by PyTorch's
SummaryWriter and by TensorBoard's own EventFileWriter (TF2's tensor summaries), read back exactly;
re-imports, corrupt files, an interrupted import and a missing extra. The command runs as a real
`python -m tailrun.cli` process."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def cli(service, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tailrun.cli", "import", "tensorboard", *args,
                           "--address", service.address], capture_output=True, text=True, timeout=120)


def _value(tag: str, plugin: str, tensor) -> Summary.Value:
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=plugin))
    return Summary.Value(tag=tag, metadata=meta, tensor=tensor)


def write_tf2_style(folder: Path) -> list[tuple[float, int, float]]:
    """TensorBoard's own writer, values as TF2 writes them (tensor summaries with plugin data).
    Returns the (wall time, step, value) of the scalar written."""
    writer = EventFileWriter(str(folder))
    points = [(1_700_000_000.125 + i, i * 10, v) for i, v in enumerate([0.1, 1 / 3, 2.5e-308, -7.0])]
    for wall, step, value in points:
        writer.add_event(Event(wall_time=wall, step=step, summary=Summary(value=[
            _value("val/acc", "scalars", tensor_util.make_tensor_proto(np.float64(value)))])))
    writer.add_event(Event(wall_time=1_700_000_100.5, step=3, summary=Summary(value=[
        _value("notes", "text", tensor_util.make_tensor_proto(np.array([b"first line", "zwei \u00e9".encode()]))),
        _value("pics", "images", tensor_util.make_tensor_proto(np.array([b"1", b"1", PNG]))),
        Summary.Value(tag="hist", histo={"min": 0.0, "max": 1.0}),
    ])))
    writer.close()
    return points


def test_tensorboard_writer_exact(service, ws, tmp_path):
    from tailrun import Run
    points = write_tf2_style(tmp_path / "logs" / "trial-1")
    out = cli(service, str(tmp_path / "logs"), "--experiment", "tb-own")
    assert out.returncode == 0, out.stderr
    [run_id] = out.stdout.split()
    assert "not imported: 1 histo value" in out.stderr
    run = Run.get(ws, run_id)
    assert run.experiment.name == "tb-own" and run.display_name == "trial-1"
    acc = run.get_metric_series("val/acc")
    assert [(t, s, v) for s, v, t in acc] == points              # walls, steps and values exact
    notes = run.get_metric_series("notes")
    assert list(notes) == [(3, "first line\nzwei \u00e9", 1_700_000_100.5)]
    assert run.get_metrics()["pics"].endswith(f"{run_id}/tensorboard/images/pics/3.png")
    assert run.get_file_names() == ["tensorboard/images/pics/3.png"]
    details = run.get_details()
    assert details["status"] == "Completed"
    assert details["properties"]["tailrun.import.complete"] == "true"
    assert details["properties"]["tailrun.import.source"].startswith("tensorboard:")
    info = ws._client().get_run(run_id)
    assert info.start_time == points[0][0]     # the first wall time (file_version is stamped now)
    assert info.end_time >= 1_700_000_100.5


def test_torch_summary_writer(service, ws, tmp_path):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    from tailrun import Run
    writer = torch_tb.SummaryWriter(str(tmp_path / "runs" / "a"))
    losses = [1.0, 0.5, 1 / 3, 0.1]
    for step, loss in enumerate(losses):
        writer.add_scalar("loss/train", loss, step)
    writer.add_text("note", "hello **world**", 2)
    writer.add_image("img", np.zeros((3, 4, 5), dtype=np.uint8), 1)
    writer.close()
    second = torch_tb.SummaryWriter(str(tmp_path / "runs" / "b"))
    second.add_scalar("x", 5, 0)
    second.close()
    out = cli(service, str(tmp_path / "runs"))
    assert out.returncode == 0, out.stderr
    ids = out.stdout.split()
    assert len(ids) == 2
    a, b = (Run.get(ws, run_id) for run_id in ids)
    assert a.display_name == "a" and b.display_name == "b" and a.experiment.name == "runs"
    loss = a.get_metric_series("loss/train")
    # simple_value is a float32: the double it stands for, exactly
    assert loss.values == [float(np.float32(v)) for v in losses] and loss.steps == [0, 1, 2, 3]
    assert a.get_metric_series("note/text_summary").values == ["hello **world**"]
    image = a.get_metrics(populate=True)["img"]
    assert image.data.startswith(b"\x89PNG")

    again = cli(service, str(tmp_path / "runs"))
    assert again.returncode == 0 and again.stdout == ""
    assert again.stderr.count("already imported") == 2
    assert len(ws._client().list_runs(experiment="runs")) == 2


def test_corrupt_file_imports_nothing(service, ws, tmp_path):
    write_tf2_style(tmp_path / "good" / "ok")
    bad_folder = tmp_path / "good" / "zz-bad"
    write_tf2_style(bad_folder)
    [event_file] = bad_folder.iterdir()
    data = bytearray(event_file.read_bytes())
    data[200] ^= 0xFF                       # inside the third record
    event_file.write_bytes(bytes(data))
    out = cli(service, str(tmp_path / "good"))
    assert out.returncode == 1 and out.stdout == ""
    assert str(event_file) in out.stderr and "record 2" in out.stderr and "crc" in out.stderr.lower()
    assert ws._client().list_runs(include_children=True) == []   # the good folder was not imported either

    truncated = tmp_path / "cut" / "r"
    write_tf2_style(truncated)
    [cut_file] = truncated.iterdir()
    cut_file.write_bytes(cut_file.read_bytes()[:-7])
    out = cli(service, str(tmp_path / "cut"))
    assert out.returncode == 1 and str(cut_file) in out.stderr and "record 5" in out.stderr
    assert ws._client().list_runs(include_children=True) == []


def test_bad_paths(service, tmp_path):
    missing = cli(service, str(tmp_path / "nope"))
    assert missing.returncode == 1 and "no such folder" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = cli(service, str(tmp_path / "empty"))
    assert empty.returncode == 1 and "no TensorBoard event files" in empty.stderr


def test_interrupted_import_is_replaced(service, ws, tmp_path, run_script):
    """A run an import left half-made (killed before its end) is not taken as imported: the next
    import makes a complete run and marks the old one Failed, pointing to the new one."""
    from tailrun.importers.tensorboard import read_logdir
    write_tf2_style(tmp_path / "logs" / "t")
    [source] = [r.source_id for r in read_logdir(str(tmp_path / "logs"))]
    half = run_script(
        "import os\nfrom tailrun import Workspace, Experiment\nfrom tailrun.run import Run\n"
        "exp = Experiment(Workspace(), 'logs')\n"
        f"run = Run._start(exp, default_outputs=False, properties={{'tailrun.import.source': {source!r}}})\n"
        "run._log_series('val/acc', [0.1], [0], [1.0])\nrun.flush()\nprint(run.id, flush=True)\nos._exit(9)\n")
    old_id = half.stdout.strip()
    assert old_id, half.stderr
    out = cli(service, str(tmp_path / "logs"))
    assert out.returncode == 0, out.stderr
    [new_id] = out.stdout.split()
    ws._recorder().flush(30)
    client = ws._client()
    old, new = client.get_run(old_id), client.get_run(new_id)
    assert new.status == "Completed" and new.properties["tailrun.import.complete"] == "true"
    assert old.status == "Failed" and old.tags["tailrun.import.replaced_by"] == new_id
    assert "ImportInterrupted" in old.error_json
    assert cli(service, str(tmp_path / "logs")).stdout == ""       # now complete: skipped


def test_missing_tensorboard_names_the_extra(service, run_script, tmp_path):
    code = ("import sys; sys.modules['tensorboard'] = None\n"
            "from tailrun.cli import main\n"
            f"sys.exit(main(['import', 'tensorboard', {str(tmp_path)!r}]))\n")
    out = run_script(code)
    assert out.returncode == 1
    assert "pip install 'tailrun[tensorboard]'" in out.stderr
