"""Tags (mutable str -> str) and properties (add-only) of a Run.

Changes are queued as `patch` events and mirrored in the local cache (`tags`, `properties`);
`get_tags()` / `get_properties()` read the service.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ._run_parts import TagsHost as _Run   # what this part uses of Run
else:
    _Run = object

MAX_PROPERTY_KEY, MAX_PROPERTY_VALUE = 100, 1000


class TagsMixin(_Run):
    """The tags and properties of a Run (mixed into run.Run; uses of it what _run_parts.TagsHost lists)."""

    @property
    def tags(self) -> dict[str, str]:
        """The tags as last known (`get_tags()` asks the service)."""
        return dict(self._tags)

    def tag(self, key: str, value: Any = None) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Add or change tags (merged with the existing ones); values are str()-ed, None is ""."""
        if not isinstance(tags, dict):
            raise TypeError(f"set_tags needs a dict, not {type(tags).__name__}")
        clean = {check_key(k, "tag"): tag_value(v) for k, v in tags.items()}
        if clean:
            self._tags.update(clean)
            self._patch(set_tags=clean)

    def remove_tags(self, tags: list[str] | str) -> None:
        keys = [tags] if isinstance(tags, str) else [str(k) for k in tags]
        for key in keys:
            self._tags.pop(key, None)
        if keys:
            self._patch(remove_tags=keys)

    def get_tags(self) -> dict[str, str]:
        return dict(self._fetch().tags)

    @property
    def properties(self) -> dict[str, str]:
        return dict(self._properties)

    def add_properties(self, properties: dict[str, Any]) -> None:
        """Add properties; they are immutable: changing an existing one is an error."""
        if not isinstance(properties, dict):
            raise TypeError(f"add_properties needs a dict, not {type(properties).__name__}")
        clean = {}
        for key, value in properties.items():
            key = check_key(key, "property", MAX_PROPERTY_KEY)
            value = tag_value(value)
            if len(value) > MAX_PROPERTY_VALUE:
                raise ValueError(f"property {key!r}: value is {len(value)} characters; the limit is "
                                 f"{MAX_PROPERTY_VALUE}")
            if key in self._properties and self._properties[key] != value:
                raise ValueError(f"property {key!r} is already set to {self._properties[key]!r}; "
                                 "properties are add-only (use tags for values that change)")
            clean[key] = value
        if clean:
            self._properties.update(clean)
            self._patch(add_properties=clean)

    def add_property(self, key: str, value: Any) -> None:
        self.add_properties({key: value})

    def get_properties(self) -> dict[str, str]:
        return dict(self._fetch().properties)


def check_key(key: Any, what: str, limit: int = 255) -> str:
    key = str(key)
    if not key or len(key) > limit:
        raise ValueError(f"{what} key {key!r} must be 1-{limit} characters")
    return key


MAX_VALUE_CHARS = 64 * 1024   # the service refuses longer tag values (and the whole change with them)


def tag_value(value: Any) -> str:
    """Tag and property values are strings: None becomes "", anything else str()."""
    text = "" if value is None else str(value)
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError(f"tag value {text[:40]!r}... is {len(text)} characters long; the limit is "
                         f"{MAX_VALUE_CHARS} (upload long text as a file with run.upload_file())")
    return text
