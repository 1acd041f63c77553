"""Child runs: `child_run`, `create_children`, `get_children`, `parent`.

A child is a run of the same experiment whose parent_run_id is this run; its id is a uuid4. A
child does not track an outputs folder unless `outputs=` names one (the parent already uploads
`./outputs`), and does not capture the console (the parent's capture already has it).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from ._run_parts import ChildrenHost as _Run   # what this part uses of Run
    from .run import Run
else:
    _Run = object


MAX_CHILDREN = 100


class ChildrenMixin(_Run):
    """The child runs of a Run (mixed into run.Run; uses of it what _run_parts.ChildrenHost lists)."""

    def child_run(self, name: str | None = None, run_id: str | None = None,
                  outputs: str | None = None) -> "Run":
        """Create and start a child run (status Running); `name` is its display name."""
        from .run import Run
        child = Run._start(self._experiment, run_id=run_id, parent_id=self._id, outputs=outputs,
                           default_outputs=False, display_name=name, run_type="child")
        child._parent_obj = self  # type: ignore[assignment]
        return child

    def create_children(self, count: int | None = None, tag_key: str | None = None,
                        tag_values: list[Any] | None = None) -> list["Run"]:
        """Create and start several children at once, as Azure ML does: `count` children, or one
        per value of `tag_values`, each with the tag `tag_key` set to its value (at most 100)."""
        from .run import Run
        from .run_tags import tag_value
        if tag_key is not None or tag_values is not None:
            if tag_key is None or tag_values is None:
                raise ValueError("create_children: tag_key and tag_values go together")
            tag_sets: list[dict[str, Any]] = [{str(tag_key): tag_value(v)} for v in tag_values]
            if count is not None and count != len(tag_sets):
                raise ValueError(f"create_children: count={count} but {len(tag_sets)} tag_values")
        elif count is None:
            raise ValueError("create_children: pass count, or tag_key and tag_values")
        else:
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"create_children: count must be a non-negative integer, got {count!r}")
            tag_sets = [{} for _ in range(count)]
        if len(tag_sets) > MAX_CHILDREN:
            raise ValueError(f"create_children: at most {MAX_CHILDREN} children at once, got {len(tag_sets)}")
        children = []
        for tags in tag_sets:
            child = Run._start(self._experiment, parent_id=self._id, default_outputs=False,
                               tags=tags, run_type="child")
            child._parent_obj = self  # type: ignore[assignment]
            children.append(child)
        return children

    @property
    def parent(self) -> "Run | None":
        """The parent run, or None for a top-level run (read from the service when needed)."""
        if self._parent_obj is not None:
            return self._parent_obj
        if self._parent_id is None and getattr(self, "_owner", False):
            return None
        parent_id = self._parent_id or (self._fetch().parent_run_id or None)
        if parent_id is None:
            return None
        from .run import Run
        self._parent_obj = Run.get(self._experiment.workspace, parent_id)
        return self._parent_obj

    def get_children(self, recursive: bool = False, tags: Any = None, properties: Any = None,
                     type: str | None = None, status: str | None = None, **kwargs: Any) -> Iterator["Run"]:
        """Children of this run (all descendants with `recursive=True`), newest first; filtered by
        tags/properties (a key or a {key: value} dict), run type and status. A generator."""
        from .experiment import _filter_dict
        from .run import _attach_info
        self._recorder().flush(300)
        infos = self._client().iter_runs(
            parent_run_id=self._id, recursive=recursive, status=status or "",
            tags={k: v or "" for k, v in _filter_dict(tags).items()},
            properties={k: v or "" for k, v in _filter_dict(properties).items()})
        for info in infos:
            if type is None or info.run_type == type:
                yield _attach_info(self._experiment, info)
