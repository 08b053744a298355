"""Safe YAML reading that remembers where every value came from.

PyYAML's `safe_load` forgets line numbers and happily expands an alias bomb. Here a file is
composed into nodes by libyaml (or the pure-Python parser), then built into plain Python
values by hand: tags other than YAML's standard scalars are refused, duplicate keys are
reported, and alias expansion is budgeted so a "billion laughs" file fails fast.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml is in the PyYAML wheels we use
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Path = tuple[str | int, ...]

#: How many nodes aliases may add on top of the file's own; a pack has no need of more.
ALIAS_BUDGET = 20_000

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_MERGE = "tag:yaml.org,2002:merge"


class YamlError(ValueError):
    """A problem reading the YAML itself, with the 1-based line where it was found.

    `quotes` is True when the message repeats text of the file (a key, a value, a tag):
    the loader does not show such a message for a file that is not a pack.
    """

    def __init__(
        self, line: int | None, message: str, key: str | None = None, *, quotes: bool = False
    ) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.key = key
        self.quotes = quotes


@dataclass
class Document:
    """The values of a YAML document and the line of every path in it."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[YamlError] = field(default_factory=list)

    def line_of(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]


def yaml_type(value: Any) -> str:
    """What a value read from YAML is, in a message's words ("a string", "nothing (null)")."""
    if value is None:
        return "nothing (null)"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _tag_refused(node: Node) -> str:
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    if isinstance(node, ScalarNode) and not node.style and tag == "!!timestamp":
        return f"{node.value!r} reads as a date, which a pack does not take; quote it"
    return f"the tag {tag!r} is not allowed in a pack (a pack is plain YAML: no tags)"


class _Builder:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.seen: set[int] = set()
        self.stack: set[int] = set()
        self.expanded = 0
        self.scalars = SafeConstructor()

    def build(self, node: Node, path: Path) -> Any:
        line = node.start_mark.line + 1
        self.doc.lines.setdefault(path, line)
        if id(node) in self.stack:
            raise YamlError(line, "an alias refers to a node that contains it")
        if id(node) in self.seen:
            self.expanded += 1
            if self.expanded > ALIAS_BUDGET:
                raise YamlError(
                    line,
                    f"anchors and aliases expand past {ALIAS_BUDGET} nodes; "
                    "write the values out or use fewer aliases",
                )
        self.seen.add(id(node))
        if isinstance(node, ScalarNode):
            return self._scalar(node, line)
        self.stack.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                self._check_tag(node, "tag:yaml.org,2002:seq", line)
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                self._check_tag(node, "tag:yaml.org,2002:map", line)
                return self._mapping(node, path)
        finally:
            self.stack.discard(id(node))
        raise YamlError(line, "unsupported YAML node")  # pragma: no cover

    def _check_tag(self, node: Node, expected: str, line: int) -> None:
        if node.tag != expected:
            raise YamlError(line, _tag_refused(node), quotes=True)

    def _scalar(self, node: ScalarNode, line: int) -> Any:
        tag = node.tag
        if tag == "tag:yaml.org,2002:str":
            return node.value
        if tag not in _SCALAR_TAGS:
            raise YamlError(line, _tag_refused(node), quotes=True)
        try:
            return self.scalars.construct_object(node)
        except (ConstructorError, ValueError) as exc:
            raise YamlError(
                line, f"cannot read the value {node.value!r}: {exc}", quotes=True
            ) from None

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        written: set[str] = set()  # the keys this mapping writes itself; merged ones yield
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                merged = self.build(value_node, path)
                sources = merged if isinstance(merged, list) else [merged]
                for source in sources:
                    if not isinstance(source, dict):
                        raise YamlError(key_line, "'<<' must merge a mapping")
                    for k, v in source.items():
                        result.setdefault(k, v)
                continue
            if not isinstance(key_node, ScalarNode):
                raise YamlError(key_line, "a key must be a plain string")
            key = self._scalar(key_node, key_line)
            if not isinstance(key, str):
                raise YamlError(
                    key_line,
                    f"the key {key_node.value!r} reads as {type(key).__name__}, "
                    "not a string; quote it",
                    quotes=True,
                )
            if key in written:
                self.doc.problems.append(
                    YamlError(
                        key_line,
                        f"duplicate key {key!r} (first at line {self.doc.lines[(*path, key)]})",
                        key,
                        quotes=True,
                    )
                )
                continue
            written.add(key)
            self.doc.lines[(*path, key)] = key_line
            result[key] = self.build(value_node, (*path, key))
        return result


def read_yaml(text: str) -> Document:
    """Compose `text` safely and build its values, recording each path's line."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        where = f" (column {mark.column + 1})" if mark is not None else ""
        context = exc.context_mark
        if exc.problem and exc.context and context is not None and context.line + 1 != line:
            # The parser notices a problem where it stops; say where the construct began.
            where = f" ({exc.context} that starts at line {context.line + 1})"
        raise YamlError(line, f"YAML syntax error: {problem}{where}") from None
    except yaml.YAMLError as exc:
        raise YamlError(None, f"YAML error: {exc}", quotes=True) from None
    doc = Document(None)
    if node is None:
        return doc
    # Building makes many small objects and no cycles: the cycle collector only costs here.
    enabled = gc.isenabled()
    gc.disable()
    try:
        doc.data = _Builder(doc).build(node, ())
    finally:
        if enabled:
            gc.enable()
    return doc
