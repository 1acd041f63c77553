"""Store: the model registry (versions per name, files from uploads or a run's files, filters,
updates, errors, concurrency, reopening) on SQLite and PostgreSQL."""
from __future__ import annotations

import hashlib
import threading

import pytest
from storekit import Writer, file_chunk, make_store, start, store  # noqa: F401

from tailrun.v1 import tailrun_pb2 as pb
from tailrun_service.errors import InvalidArgument, NotFound
from tailrun_service.store import Store


def spec(name: str, **kw) -> pb.RegisterModelSpec:
    return pb.RegisterModelSpec(name=name, **kw)


def upload(store, name: str, files: dict[str, bytes], **kw) -> pb.ModelInfo:
    """Register `files` (path -> bytes) as a new version of `name`, each file in 2 chunks."""
    staging = store.models.stage()
    for path, data in files.items():
        half = len(data) // 2
        staging.write_chunk(path, half, data[half:], last=True)   # chunks in any order
        staging.write_chunk(path, 0, data[:half], last=False)
    return store.models.register(spec(name, **kw), staging, "admin")


def from_run(store, name: str, run_id: str, model_path: str, **kw) -> pb.ModelInfo:
    staging = store.models.stage()
    try:
        cleaned = store.models.stage_run_files(staging, run_id, model_path)
    except BaseException:
        staging.discard()
        raise
    return store.models.register(spec(name, run_id=run_id, model_path=model_path, **kw), staging, "run:x", cleaned)


def read_model(store, info: pb.ModelInfo) -> dict[str, bytes]:
    out = {}
    for f in info.files:
        with store.models.open_file(info.name, info.version, f.path) as fh:
            out[f.path] = fh.read()
    return out


def staging_left(store) -> list:
    folder = store.models.files.root / ".staging"
    return list(folder.iterdir()) if folder.is_dir() else []


def test_versions_count_up_per_name_and_keep_their_files(store):
    infos = [upload(store, "clf", {"model.pkl": f"weights {i}".encode()}, tags={"i": str(i)}) for i in (1, 2, 3)]
    assert [i.version for i in infos] == [1, 2, 3] and [i.id for i in infos] == ["clf:1", "clf:2", "clf:3"]
    assert upload(store, "other", {"m.bin": b"x"}).version == 1
    latest = store.models.get("clf")
    assert latest.version == 3 and latest.tags == {"i": "3"} and latest.created_by == "admin"
    assert read_model(store, store.models.get("clf", 2)) == {"model.pkl": b"weights 2"}
    assert [(f.path, f.size) for f in latest.files] == [("model.pkl", 9)]
    on_disk = store.models.files.root / "clf" / "1" / "model.pkl"
    assert on_disk.read_bytes() == b"weights 1"
    with store.db.read() as conn:
        digest = conn.exec_driver_sql("SELECT sha256 FROM model_files WHERE name = 'clf' AND version = 1").scalar()
    assert digest == hashlib.sha256(b"weights 1").hexdigest()
    assert staging_left(store) == []


def test_a_folder_keeps_its_layout(store):
    info = upload(store, "bert", {"bert/config.json": b"{}", "bert/weights/part-0": b"0" * 1000,
                                  "bert/weights/part-1": b""})
    assert [f.path for f in info.files] == ["bert/config.json", "bert/weights/part-0", "bert/weights/part-1"]
    assert read_model(store, info)["bert/weights/part-0"] == b"0" * 1000


def test_register_from_a_runs_file_or_folder(store):
    w = Writer(store)
    w.send(start("r1", experiment="train"),
           file_chunk("r1", "outputs/model.pkl", b"pickled", last=True),
           file_chunk("r1", "outputs/model/a.bin", b"A", last=True),
           file_chunk("r1", "outputs/model/sub/b.bin", b"B", last=True),
           file_chunk("r1", "logs/x.txt", b"log", last=True))
    one = from_run(store, "m", "r1", "./outputs/model.pkl")
    assert one.run_id == "r1" and one.experiment == "train" and one.model_path == "outputs/model.pkl"
    assert read_model(store, one) == {"model.pkl": b"pickled"}
    # A folder: every file under it (not outputs/model.pkl, which only starts with the same text).
    folder = from_run(store, "m", "r1", "outputs/model/")
    assert folder.version == 2 and folder.model_path == "outputs/model"
    assert read_model(store, folder) == {"model/a.bin": b"A", "model/sub/b.bin": b"B"}
    whole = from_run(store, "everything", "r1", "outputs")
    assert sorted(read_model(store, whole)) == ["outputs/model.pkl", "outputs/model/a.bin", "outputs/model/sub/b.bin"]
    assert [m.id for m in store.models.list(pb.ListModelsRequest(run_id="r1"))] == ["everything:1", "m:2", "m:1"]


def test_a_model_path_the_run_does_not_have_names_the_runs_files(store):
    w = Writer(store)
    w.send(start("r1"), file_chunk("r1", "outputs/model.pkl", b"p", last=True),
           file_chunk("r1", "logs/x.txt", b"l", last=True))
    with pytest.raises(NotFound) as err:
        from_run(store, "m", "r1", "outputs/missing.pkl")
    assert str(err.value) == ("Could not locate the provided model_path outputs/missing.pkl in the set of files "
                              "uploaded to the run: ['logs/x.txt', 'outputs/model.pkl']")
    with pytest.raises(NotFound, match="'outputs/model.pkl'"):
        from_run(store, "m", "r1", "outputs/model.pk")      # a prefix of a name is no match
    with pytest.raises(NotFound, match="run 'ghost' not found"):
        from_run(store, "m", "ghost", "outputs/model.pkl")
    with pytest.raises(InvalidArgument, match="contains '..'"):
        from_run(store, "m", "r1", "outputs/../../etc")
    assert store.models.list(pb.ListModelsRequest()) == [] and staging_left(store) == []


def test_unknown_names_and_versions_name_what_exists(store):
    with pytest.raises(NotFound, match="model 'nope' not found; no models are registered"):
        store.models.get("nope")
    upload(store, "a", {"f": b"1"})
    upload(store, "a", {"f": b"2"})
    upload(store, "b", {"f": b"3"})
    with pytest.raises(NotFound, match="model 'a' has no version 7; its versions are 1, 2"):
        store.models.get("a", 7)
    with pytest.raises(NotFound, match="model 'c' not found; registered models: a, b"):
        store.models.get("c")
    with pytest.raises(NotFound, match="has no version 9"):
        store.models.update(pb.UpdateModelRequest(name="a", version=9, add_tags={"k": "v"}))
    with pytest.raises(InvalidArgument, match="positive"):
        store.models.get("a", -1)


@pytest.mark.parametrize("name", ["", "-lead", ".hidden", "a/b", "a b", "x" * 256, "é", "name\n"])
def test_bad_model_names_are_refused_before_anything_is_stored(store, name):
    staging = store.models.stage()
    staging.write_chunk("f", 0, b"x", last=True)
    with pytest.raises(InvalidArgument, match="invalid model name"):
        store.models.register(spec(name), staging, "admin")
    assert staging_left(store) == [] and store.models.list(pb.ListModelsRequest()) == []


def test_a_failed_registration_leaves_nothing(make_store, tmp_path):
    store = make_store.open()
    staging = store.models.stage()
    staging.write_chunk("model.bin", 0, b"half", last=False)   # the last chunk never came
    with pytest.raises(InvalidArgument, match="'model.bin' were not completed"):
        store.models.register(spec("m"), staging, "admin")
    empty = store.models.stage()
    with pytest.raises(InvalidArgument, match="the model has no files"):
        store.models.register(spec("m"), empty, "admin")
    staging = store.models.stage()
    for bad in ("../x", "/abs", "a//b"):
        with pytest.raises(InvalidArgument):
            staging.write_chunk(bad, 0, b"x", last=True)
    staging.discard()
    assert staging_left(store) == [] and store.models.list(pb.ListModelsRequest()) == []
    assert not (store.models.files.root / "m").exists()
    # Over the size limit (the run-file limit of the store).
    small = Store.open(make_store.url, tmp_path / "small", max_file_bytes=8)
    make_store.opened.append(small)
    staging = small.models.stage()
    with pytest.raises(InvalidArgument, match="exceeds the limit of 8 bytes"):
        staging.write_chunk("big.bin", 4, b"12345", last=True)
    staging.discard()
    assert upload(store, "m", {"ok": b"fine"}).version == 1   # the failures took no version


def test_list_filters_by_name_tags_run_and_latest(store):
    Writer(store).send(start("r1"), file_chunk("r1", "outputs/m.pkl", b"m", last=True))
    upload(store, "a", {"f": b"1"}, tags={"stage": "dev", "team": "x"})
    upload(store, "a", {"f": b"2"}, tags={"stage": "prod"})
    upload(store, "a", {"f": b"3"}, tags={"stage": "dev"})
    upload(store, "b", {"f": b"4"}, tags={"stage": "prod", "team": "y"})
    from_run(store, "c", "r1", "outputs/m.pkl")

    def ids(**kw) -> list[str]:
        return [m.id for m in store.models.list(pb.ListModelsRequest(**kw))]

    assert ids() == ["a:3", "a:2", "a:1", "b:1", "c:1"]
    assert ids(name="a") == ["a:3", "a:2", "a:1"]
    assert ids(latest=True) == ["a:3", "b:1", "c:1"]
    assert ids(tags={"stage": "prod"}) == ["a:2", "b:1"]
    assert ids(tags={"stage": "prod"}, latest=True) == ["a:2", "b:1"]   # the newest *matching* version
    assert ids(tag_keys=["team"]) == ["a:1", "b:1"]
    assert ids(tags={"team": ""}) == ["a:1", "b:1"]                     # an empty value: any value
    assert ids(tags={"stage": "dev", "team": "x"}) == ["a:1"]
    assert ids(run_id="r1") == ["c:1"] and ids(name="zzz") == []
    assert all(not m.files for m in store.models.list(pb.ListModelsRequest()))


def test_update_tags_properties_and_description(store):
    upload(store, "m", {"f": b"1"}, tags={"a": "1", "b": "2"}, properties={"p": "1"}, description="first")
    upload(store, "m", {"f": b"2"})
    info = store.models.update(pb.UpdateModelRequest(name="m", version=1, add_tags={"c": "3", "a": "9"},
                                                      remove_tags=["b", "absent"], add_properties={"q": "2", "p": "1"},
                                                      description="better"))
    assert info.version == 1 and dict(info.tags) == {"a": "9", "c": "3"}
    assert dict(info.properties) == {"p": "1", "q": "2"} and info.description == "better"
    with pytest.raises(InvalidArgument, match="already has the property 'p' = '1'; properties can be added but never changed"):
        store.models.update(pb.UpdateModelRequest(name="m", version=1, add_properties={"p": "other"}))
    assert store.models.get("m", 1).properties["p"] == "1"
    latest = store.models.update(pb.UpdateModelRequest(name="m", add_tags={"new": ""}))   # version 0: the latest
    assert latest.version == 2 and dict(latest.tags) == {"new": ""} and store.models.get("m", 1).description == "better"


def test_concurrent_registrations_of_one_name_get_distinct_versions(make_store):
    replicas = [make_store.open(), make_store.open()]   # two service replicas on one database
    per_thread, threads = 4, 4
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def register(t: int) -> None:
        store = replicas[t % 2]
        try:
            barrier.wait()
            for i in range(per_thread):
                upload(store, "shared", {"who.txt": f"{t}-{i}".encode()})
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=register, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    listed = replicas[0].models.list(pb.ListModelsRequest(name="shared"))
    assert sorted(m.version for m in listed) == list(range(1, per_thread * threads + 1))
    contents = {read_model(replicas[1], replicas[1].models.get("shared", m.version))["who.txt"] for m in listed}
    assert contents == {f"{t}-{i}".encode() for t in range(threads) for i in range(per_thread)}


def test_models_survive_reopening_the_store(make_store):
    store = make_store.open()
    upload(store, "keep", {"keep/a": b"alpha", "keep/b": b"beta"}, tags={"t": "1"})
    store.close()
    make_store.opened.remove(store)
    again = make_store.open()
    info = again.models.get("keep")
    assert info.version == 1 and dict(info.tags) == {"t": "1"}
    assert read_model(again, info) == {"keep/a": b"alpha", "keep/b": b"beta"}
    assert upload(again, "keep", {"keep/a": b"v2"}).version == 2
