"""The environment registry in the store: versions 1, 2, 3... per name, an equal definition keeps
its version, concurrent registrations (also from two replicas) never share a version, errors that
name what exists. On SQLite and PostgreSQL."""
from __future__ import annotations

import json
import threading

import pytest
from storekit import BACKENDS, StoreFactory

from tailrun_service.errors import InvalidArgument, NotFound
from tailrun_service.store.environments import MAX_DEFINITION_BYTES


@pytest.fixture(params=BACKENDS)
def factory(request, tmp_path):
    made = StoreFactory(request.param, tmp_path / "data")
    yield made
    made.close_all()


def definition(name: str, *pip: str, **extra) -> str:
    return json.dumps({"name": name, "version": None,
                       "python": {"conda_dependencies": {"pip_packages": list(pip)}}, **extra})


def test_versions_count_up_and_an_equal_definition_keeps_its_version(factory):
    store = factory.open()
    first = store.register_environment("train", definition("train", "six"))
    assert (first.name, first.version) == ("train", 1) and first.created_time > 0
    # The same definition, its keys in another order and with a version set: still version 1.
    again = store.register_environment("train", json.dumps(
        {"python": {"conda_dependencies": {"pip_packages": ["six"]}}, "version": "1", "name": "train"}))
    assert (again.version, again.created_time) == (1, first.created_time)
    assert store.register_environment("train", definition("train", "six", "numpy")).version == 2
    # Back to the first definition: that is a change from the latest, so a new version.
    assert store.register_environment("train", definition("train", "six")).version == 3
    assert store.register_environment("other", definition("other")).version == 1

    stored = json.loads(store.get_environment("train", 2).definition_json)
    assert stored["python"]["conda_dependencies"]["pip_packages"] == ["six", "numpy"]
    assert stored["name"] == "train" and "version" not in stored
    assert store.get_environment("train").version == 3          # 0 = the latest
    assert store.get_environment("train", 1).definition_json == first.definition_json


def test_versions_survive_a_restart(factory):
    store = factory.open()
    store.register_environment("e", definition("e", "a"))
    store.close()
    reopened = factory.open()
    assert reopened.register_environment("e", definition("e", "a")).version == 1
    assert reopened.register_environment("e", definition("e", "b")).version == 2


def test_list_by_name_and_latest(factory):
    store = factory.open()
    for name, pip in [("b", "x"), ("a", "x"), ("b", "y"), ("b", "z")]:
        store.register_environment(name, definition(name, pip))
    assert [(e.name, e.version) for e in store.list_environments()] == [("a", 1), ("b", 3), ("b", 2), ("b", 1)]
    assert [(e.name, e.version) for e in store.list_environments(latest=True)] == [("a", 1), ("b", 3)]
    assert [e.version for e in store.list_environments(name="b")] == [3, 2, 1]
    assert [e.version for e in store.list_environments(name="b", latest=True)] == [3]
    assert store.list_environments(name="nothing") == []


def test_unknown_names_and_versions_name_what_exists(factory):
    store = factory.open()
    with pytest.raises(NotFound, match=r"^no environment named 'x': no environments are registered$"):
        store.get_environment("x")
    store.register_environment("alpha", definition("alpha", "a"))
    store.register_environment("alpha", definition("alpha", "b"))
    store.register_environment("beta", definition("beta"))
    with pytest.raises(NotFound, match=r"^no environment named 'x'; registered environments: 'alpha', 'beta'$"):
        store.get_environment("x", 1)
    with pytest.raises(NotFound, match=r"^environment 'alpha' has no version 7; its versions are 1, 2$"):
        store.get_environment("alpha", 7)
    with pytest.raises(InvalidArgument, match="version must be 1 or more"):
        store.get_environment("alpha", -1)
    with pytest.raises(InvalidArgument, match="environment name is required"):
        store.get_environment("")


@pytest.mark.parametrize("text, problem", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "must be a JSON object, not list"),
    ('{"python": {"x": NaN}}', "NaN is not allowed"),
    ('{"name": "someone-else"}', "names 'someone-else', but is registered as 'env'"),
    ('{"blob": "' + "x" * MAX_DEFINITION_BYTES + '"}', "is over the limit of 1024 KiB"),
])
def test_bad_definitions_are_refused_and_store_nothing(factory, text, problem):
    store = factory.open()
    with pytest.raises(InvalidArgument, match=problem):
        store.register_environment("env", text)
    assert store.list_environments() == []


def test_bad_names_are_refused(factory):
    store = factory.open()
    for name in ("", " lead", "trail ", "a/b", "x" * 256):
        with pytest.raises(InvalidArgument, match="environment name"):
            store.register_environment(name, "{}")
    assert store.list_environments() == []


def _concurrently(stores, jobs):
    """Run `jobs` (callables taking a store) at once on threads, alternating the stores; results in order."""
    results: list = [None] * len(jobs)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(jobs))

    def work(i: int) -> None:
        try:
            barrier.wait()
            results[i] = jobs[i](stores[i % len(stores)])
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def test_concurrent_registrations_from_two_replicas_get_different_versions(factory):
    stores = [factory.open(), factory.open()]   # two services on one database
    count = 12
    jobs = [lambda store, i=i: store.register_environment("shared", definition("shared", f"pkg{i}"))
            for i in range(count)]
    infos = _concurrently(stores, jobs)
    assert sorted(info.version for info in infos) == list(range(1, count + 1))
    listed = stores[0].list_environments(name="shared")
    assert len(listed) == count
    # Each registration's definition is stored under the version it was given.
    for i, info in enumerate(infos):
        stored = json.loads(stores[1].get_environment("shared", info.version).definition_json)
        assert stored["python"]["conda_dependencies"]["pip_packages"] == [f"pkg{i}"]


def test_concurrent_registrations_of_one_definition_share_version_1(factory):
    stores = [factory.open(), factory.open()]
    infos = _concurrently(stores, [lambda store: store.register_environment("same", definition("same", "six"))] * 8)
    assert {info.version for info in infos} == {1}
    assert [e.version for e in stores[0].list_environments(name="same")] == [1]
