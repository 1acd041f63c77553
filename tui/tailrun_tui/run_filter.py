"""The runs list's `/` filter, without Textual: words, and terms on a run's fields and last values.

    loss < 0.1            a metric's last value (<, <=, >, >=, ==, !=; `=` too for a metric's name)
    status:Failed         a status, by its start (`status:fail`); several status terms: any of them
    tag:seed=4  tag:seed  a tag with that value, or with any value
    baseline              any other word: in the id, name, status, number, description or a tag

Terms are all required (AND). A comparison on a name that is no metric is an error naming the metrics
there are; a run without the metric does not match.
"""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field
from typing import Callable

from tailrun.v1 import tailrun_pb2 as pb

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan"
COMPARISON = re.compile(rf"(?P<name>[A-Za-z_][\w./:-]*?)\s*(?P<op><=|>=|==|!=|<|>|=)\s*(?P<value>{_NUMBER})(?=\s|$)",
                        re.IGNORECASE)
FIELD = re.compile(r"\b(?P<field>status|tag):(?P<value>\S*)", re.IGNORECASE)
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "=": operator.eq, "==": operator.eq, "!=": operator.ne,
}


class FilterError(ValueError):
    """A filter that cannot mean anything: the text says what is wrong and what exists."""


@dataclass
class RunFilter:
    words: list[str] = field(default_factory=list)
    comparisons: list[tuple[str, str, float]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    tags: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def metrics(self) -> list[str]:
        """The metrics whose last values the filter needs."""
        return sorted({name for name, _, _ in self.comparisons})

    def matches(self, run: pb.RunInfo) -> bool:
        if self.statuses and not any(run.status.lower().startswith(s) for s in self.statuses):
            return False
        for key, value in self.tags:
            if key not in run.tags or (value is not None and run.tags[key] != value):
                return False
        for name, op, bound in self.comparisons:
            value = run.last_metrics.get(name)
            if value is None or math.isnan(value) or not OPS[op](value, bound):
                return False
        if self.words:
            hay = " ".join([run.run_id, run.display_name, run.status, str(run.number), run.description,
                            *(f"{k}={v}" for k, v in run.tags.items())]).lower()
            return all(word in hay for word in self.words)
        return True


def parse(text: str, metric_names: list[str] | set[str]) -> RunFilter:
    """The filter `text` means, given the metrics the runs have (for the error's list)."""
    out = RunFilter()
    known = set(metric_names)

    def comparison(m: re.Match[str]) -> str:
        name, op = m.group("name"), m.group("op")
        if name.lower() in ("status", "tag"):
            return m.group(0)
        if name not in known:
            if op == "=":   # `lr=0.01` is also how a tag reads: a word, unless lr is a metric
                return m.group(0)
            shown = ", ".join(sorted(known)[:12]) or "none yet"
            raise FilterError(f"no metric {name!r} to compare (metrics: {shown})")
        out.comparisons.append((name, op, float(m.group("value"))))
        return " "

    rest = COMPARISON.sub(comparison, text)

    def field_term(m: re.Match[str]) -> str:
        kind, value = m.group("field").lower(), m.group("value")
        if not value:
            raise FilterError(f"{kind}: needs a value, e.g. " + ("status:Failed" if kind == "status" else "tag:seed=4"))
        if kind == "status":
            out.statuses.append(value.lower())
        else:
            key, eq, tag_value = value.partition("=")
            out.tags.append((key, tag_value if eq else None))
        return " "

    rest = FIELD.sub(field_term, rest)
    out.words = [w.lower() for w in rest.split()]
    return out
