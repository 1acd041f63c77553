"""The model registry through a real service: Model.register from local files, Run.register_model
from a run's files, versions, list filters, download, tags and properties, errors, run-scoped
tokens, a restart, get_model_path."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import grpc
import pytest

from recorder_reset import reset_recorder
from tailrun import Experiment, Model, Run, Workspace
from tailrun.exceptions import (AuthenticationError, InvalidRequest, ModelNotFoundException,
                                ModelPathNotFoundException, WebserviceException)
from tailrun.v1 import tailrun_pb2 as pb
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc
from tailrun_service.auth import run_token

BIG = os.urandom(2 * 1024 * 1024 + 12345)   # more than two upload and download chunks


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_register_local_files_versions_and_download(ws, tmp_path, capsys):
    model_file = write(tmp_path / "src" / "model.pkl", b"v1")
    first = Model.register(ws, str(model_file), "clf", tags={"lr": 0.1}, description="baseline")
    assert capsys.readouterr().out == "Registering model clf\n"
    assert (first.name, first.version, first.id, first.run_id) == ("clf", 1, "clf:1", None)
    assert first.tags == {"lr": "0.1"} and first.description == "baseline" and first.created_time.tzinfo
    model_file.write_bytes(BIG)
    assert Model.register(ws, model_file, "clf").version == 2
    model_file.write_bytes(b"v3")
    assert Model.register(ws, model_file, "clf").version == 3

    assert Model(ws, "clf").version == 3
    assert Model(ws, "clf", version=1).description == "baseline"
    second = Model(ws, id="clf:2")
    out = tmp_path / "out"
    path = second.download(str(out))
    assert path == str(out / "model.pkl") and Path(path).read_bytes() == BIG
    with pytest.raises(WebserviceException) as err:
        Model(ws, "clf", version=1).download(str(out))
    assert str(err.value) == f"File already exists. To overwrite, set exist_ok to True. {out / 'model.pkl'}"
    assert Path(path).read_bytes() == BIG   # nothing was written
    assert Model(ws, "clf", version=1).download(str(out), exist_ok=True) == path
    assert Path(path).read_bytes() == b"v1" and sorted(os.listdir(out)) == ["model.pkl"]

    folder = tmp_path / "bert"
    write(folder / "config.json", b"{}")
    write(folder / "weights" / "part-0", BIG)
    write(folder / "notes.txt", b"skip me")
    bert = Model.register(ws, str(folder), "bert", child_paths=["config.json", "weights"])
    got = Path(bert.download(str(tmp_path / "dl")))
    assert got == tmp_path / "dl" / "bert"
    assert sorted(p.relative_to(got).as_posix() for p in got.rglob("*") if p.is_file()) == [
        "config.json", "weights/part-0"]
    assert (got / "weights" / "part-0").read_bytes() == BIG


def test_register_model_from_a_runs_outputs_and_uploads(ws, service, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = Experiment(ws, "train").start_logging()
    write(tmp_path / "outputs" / "model.pkl", b"trained")       # not uploaded yet: outputs go at the end
    with pytest.warns(UserWarning, match="ignores datasets, resource_configuration"):
        model = run.register_model("net", "outputs/model.pkl", tags={"acc": "0.9"}, properties={"p": "1"},
                                   model_framework=Model.Framework.PYTORCH, model_framework_version="2.1",
                                   datasets=[("training", object())], resource_configuration=object())
    assert (model.id, model.run_id, model.experiment_name) == ("net:1", run.id, "train")
    assert model.model_framework == "PyTorch" and model.model_framework_version == "2.1"
    assert model.properties == {"p": "1"} and model.run.id == run.id
    assert Path(model.download(str(tmp_path / "d"))).read_bytes() == b"trained"

    write(tmp_path / "local" / "w.bin", BIG)
    run.upload_file("checkpoints/w.bin", str(tmp_path / "local" / "w.bin"))
    ckpt = run.register_model("ckpt", model_path="./checkpoints/")
    assert Path(ckpt.download(str(tmp_path / "d2"))) == tmp_path / "d2" / "checkpoints"
    assert (tmp_path / "d2" / "checkpoints" / "w.bin").read_bytes() == BIG

    with pytest.raises(ModelPathNotFoundException) as err:
        run.register_model("missing", "outputs/nope.pkl")
    assert str(err.value) == ("Could not locate the provided model_path outputs/nope.pkl in the set of files "
                              "uploaded to the run: ['checkpoints/w.bin', 'outputs/model.pkl']")
    run.complete()
    # register_model uploaded outputs/model.pkl early; complete() did not send it again.
    stored = [e.file.path for e in service.store.events_after(0, run_ids=[run.id], kinds=["files"])]
    assert stored.count("outputs/model.pkl") == 1 and "checkpoints/w.bin" in stored
    assert [m.id for m in Model.list(ws, run_id=run.id)] == ["ckpt:1", "net:1"]


def test_list_filters_latest_and_workspace_models(ws, tmp_path):
    f = write(tmp_path / "m.bin", b"m")
    Model.register(ws, f, "a", tags={"stage": "dev", "team": "x"})
    Model.register(ws, f, "a", tags={"stage": "prod"}, properties={"owner": "ann"})
    Model.register(ws, f, "a", tags={"stage": "dev"}, model_framework="Onnx")
    Model.register(ws, f, "b", tags={"stage": "prod"}, properties={"owner": "bob"})

    def ids(**kw) -> list[str]:
        return [m.id for m in Model.list(ws, **kw)]

    assert ids() == ["a:3", "a:2", "a:1", "b:1"]
    assert ids(name="a", latest=True) == ["a:3"]
    assert ids(latest=True) == ["a:3", "b:1"]
    assert ids(tags=["team"]) == ["a:1"]
    assert ids(tags=[["stage", "prod"]]) == ["a:2", "b:1"]
    assert ids(tags=[["stage", "prod"]], latest=True) == ["a:2", "b:1"]
    assert ids(properties=["owner"]) == ["a:2", "b:1"] and ids(properties=[["owner", "bob"]]) == ["b:1"]
    assert ids(model_framework="Onnx") == ["a:3"]
    assert Model(ws, "a", tags=[["stage", "prod"]]).version == 2
    from tailrun.script_run import UserErrorException
    with pytest.raises(UserErrorException, match="Expected tags must be list type"):
        Model.list(ws, tags={"stage": "prod"})
    assert {name: m.version for name, m in ws.models.items()} == {"a": 3, "b": 1}


def test_tags_properties_and_description_are_stored(ws, tmp_path, capsys):
    model = Model.register(ws, write(tmp_path / "m.bin", b"m"), "tagged", tags={"a": "1", "b": "2"},
                           properties={"p": "1"})
    model.add_tags({"c": 3})
    model.remove_tags(["b"])
    model.add_properties({"q": "2"})
    assert "Model tag add operation complete." in capsys.readouterr().out
    fresh = Model(ws, "tagged")
    assert fresh.tags == {"a": "1", "c": "3"} == model.tags and fresh.properties == {"p": "1", "q": "2"}
    with pytest.raises(InvalidRequest, match="already has the property 'p' = '1'"):
        model.add_properties({"p": "changed"})
    model.update(description="better", tags={"only": "this"})
    fresh = Model(ws, "tagged")
    assert fresh.description == "better" and fresh.tags == {"only": "this"}
    assert repr(fresh) == (f"Model(workspace={ws!r}, name=tagged, id=tagged:1, version=1, "
                           "tags={'only': 'this'}, properties={'p': '1', 'q': '2'})")
    data = fresh.serialize()
    assert data["id"] == "tagged:1" and data["tags"] == {"only": "this"} and data["runId"] is None
    back = Model.deserialize(ws, data)
    assert (back.id, back.version, back.tags, back.created_time) == ("tagged:1", 1, fresh.tags, fresh.created_time)


def test_unknown_models_and_bad_arguments_say_what_exists(ws, tmp_path):
    with pytest.raises(ModelNotFoundException, match="model 'nope' not found; no models are registered"):
        Model(ws, "nope")
    f = write(tmp_path / "m.bin", b"m")
    Model.register(ws, f, "a")
    Model.register(ws, f, "a")
    with pytest.raises(WebserviceException, match="model 'a' has no version 5; its versions are 1, 2"):
        Model(ws, "a", version=5)
    with pytest.raises(ModelNotFoundException, match="registered models: a"):
        Model(ws, "b")
    with pytest.raises(ModelNotFoundException, match="ModelNotFound: Model with name a, tags"):
        Model(ws, "a", tags=["absent"])
    with pytest.raises(WebserviceException, match="one of id or name must be provided"):
        Model(ws)
    with pytest.raises(WebserviceException, match="provided model name is invalid"):
        Model.register(ws, f, "bad name")
    with pytest.raises(WebserviceException, match='provided model path ".*nowhere" cannot be found'):
        Model.register(ws, str(tmp_path / "nowhere"), "c")
    with pytest.raises(WebserviceException, match="framework version cannot be provided without"):
        Model.register(ws, f, "c", model_framework_version="1.0")
    with pytest.raises(WebserviceException, match="Tags must be a dict"):
        Model.register(ws, f, "c", tags=["x"])
    assert [m.id for m in Model.list(ws)] == ["a:2", "a:1"]


def test_a_failed_or_oversized_upload_leaves_nothing(service_factory, tmp_path):
    svc = service_factory(max_file_bytes=1000, with_runner=False)
    reset_recorder()
    try:
        ws = Workspace(address=svc.address)
        with pytest.raises(InvalidRequest, match="exceeds the limit of 1000 bytes"):
            Model.register(ws, write(tmp_path / "big.bin", b"x" * 1001), "big")
        stub = pb_grpc.TrackerStub(grpc.insecure_channel(svc.address))
        unfinished = iter([pb.RegisterModelRequest(spec=pb.RegisterModelSpec(name="half")),
                           pb.RegisterModelRequest(file=pb.FileChunk(path="m.bin", data=b"12", last=False))])
        with pytest.raises(grpc.RpcError) as err:
            stub.RegisterModel(unfinished, timeout=20)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "not completed" in err.value.details()
        with pytest.raises(grpc.RpcError) as err:
            stub.RegisterModel(iter([pb.RegisterModelRequest(spec=pb.RegisterModelSpec(name="nofiles"))]), timeout=20)
        assert "needs the model's files" in err.value.details()
        assert Model.list(ws) == []
        models_dir = svc.data_dir / "models"
        leftovers = [p for p in models_dir.rglob("*") if p.is_file()]
        assert leftovers == []
        assert Model.register(ws, write(tmp_path / "ok.bin", b"ok"), "big").version == 1
    finally:
        reset_recorder()


def test_concurrent_registrations_through_the_service_get_distinct_versions(ws, tmp_path):
    f = write(tmp_path / "m.bin", b"m")
    barrier = threading.Barrier(4)
    versions: list[int] = []

    def register() -> None:
        barrier.wait()
        for _ in range(3):
            versions.append(Model.register(ws, f, "race").version)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(versions) == list(range(1, 13))


def test_run_scoped_tokens_register_only_from_their_own_runs(service_factory, tmp_path):
    svc = service_factory(token="s3cret", with_runner=False)
    reset_recorder()
    try:
        admin = Workspace(address=svc.address, token="s3cret")
        exp = Experiment(admin, "scoped")
        own, other = exp.start_logging(outputs=False), exp.start_logging(outputs=False)
        child = own.child_run("fold")
        for run in (own, other, child):
            run.upload_file("outputs/m.pkl", write(tmp_path / f"{run.id}.pkl", run.id.encode()))
        admin_model = other.register_model("theirs", "outputs/m.pkl")
        scoped = Workspace(address=svc.address, token=run_token("s3cret", own.id))

        mine = Run.get(scoped, own.id).register_model("mine", "outputs/m.pkl")
        from_child = Run.get(scoped, child.id).register_model("mine", "outputs/m.pkl")
        assert (mine.version, from_child.version, from_child.run_id) == (1, 2, child.id)
        with pytest.raises(AuthenticationError, match="only from its own run"):
            Run.get(scoped, other.id).register_model("stolen", "outputs/m.pkl")
        with pytest.raises(AuthenticationError, match="not from outside a run"):
            Model.register(scoped, tmp_path / f"{own.id}.pkl", "local")
        # Reading, listing and downloading are open to it; changing another run's model is not.
        assert [m.id for m in Model.list(scoped)] == ["mine:2", "mine:1", "theirs:1"]
        assert Path(Model(scoped, "theirs").download(str(tmp_path / "d"))).read_bytes() == other.id.encode()
        Model(scoped, "mine").add_tags({"ok": "1"})
        with pytest.raises(AuthenticationError, match="only the models of its own run"):
            Model(scoped, "theirs").add_tags({"no": "1"})
        assert admin_model.tags == {} and Model(admin, "theirs").tags == {}
        with pytest.raises(AuthenticationError):
            Model.list(Workspace(address=svc.address, token="wrong"))
    finally:
        reset_recorder()


def test_models_survive_a_restart(service_factory, tmp_path):
    data = tmp_path / "data"
    svc = service_factory(data_dir=data, with_runner=False)
    reset_recorder()
    try:
        ws = Workspace(address=svc.address)
        Model.register(ws, write(tmp_path / "m.bin", BIG), "kept", tags={"t": "1"})
        reset_recorder()
        svc.stop(grace=1)
        again = service_factory(data_dir=data, with_runner=False)
        ws2 = Workspace(address=again.address)
        model = Model(ws2, "kept")
        assert (model.version, model.tags) == (1, {"t": "1"})
        assert Path(model.download(str(tmp_path / "d"))).read_bytes() == BIG
        assert Model.register(ws2, tmp_path / "m.bin", "kept").version == 2
    finally:
        reset_recorder()


def test_get_model_path_downloads_into_the_cache(ws, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = write(tmp_path / "src" / "scorer.pkl", b"one")
    Model.register(ws, f, "scorer")
    f.write_bytes(b"two")
    Model.register(ws, f, "scorer")
    latest = Model.get_model_path("scorer", _workspace=ws)
    assert latest == os.path.join("azureml-models", "scorer", "2", "scorer.pkl") and Path(latest).read_bytes() == b"two"
    first = Model.get_model_path("scorer", version=1, _workspace=ws)
    assert first == os.path.join("azureml-models", "scorer", "1", "scorer.pkl")
    assert Model.get_model_path("scorer") == latest               # no workspace: the newest cached
    assert Model.get_model_path("scorer", version=1) == first
    with pytest.raises(WebserviceException, match="version should be an int"):
        Model.get_model_path("scorer", version="1")
    with pytest.raises(ModelNotFoundException, match="Model unknown not found in cache"):
        Model.get_model_path("unknown")
