"""Small changes to a pack's YAML text that keep the rest of the file as written.

A suggestion (`evaluator.suggest`) adds an example to a scenario and a phrase to a
criterion's match. Dumping the changed data again would lose the author's comments, quoting
and layout, so the change is made in the text: the new example after the scenario's last
one, the phrase at the end of the match's list (or a `not:` list beside it). The result is
read back and must give exactly the data the change means (`expected`); when the layout is
one these edits do not know (a flow-style examples list, a missing examples key, ...), the
answer is None and nothing is patched. Pure: text in, text out.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


def _get(node: Node | None, key: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key and isinstance(v, Node):
            return v
    return None


def _item_with_id(node: Node | None, wanted: str) -> Node | None:
    if not isinstance(node, SequenceNode):
        return None
    for item in node.value:
        found = _get(item, "id")
        if isinstance(found, ScalarNode) and found.value == wanted and isinstance(item, Node):
            return item
    return None


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def _after_last_content_line(text: str, node: Node) -> int:
    """The offset just after the last line of `node` that holds more than blanks or a
    comment (a block node's end mark may stand beyond the comments that follow it)."""
    lines = text.split("\n")
    starts = _line_starts(text)
    last = node.end_mark.line
    if last >= len(lines) or not lines[last][: node.end_mark.column].strip():
        last -= 1  # the mark stands at the next token: the node ended on a line before
    while last > node.start_mark.line:
        stripped = lines[last].strip()
        if stripped and not stripped.startswith("#"):
            break
        last -= 1
    return starts[last] + len(lines[last])


def _dash_column(text: str, sequence: SequenceNode) -> int | None:
    """The column of the `-` of a block sequence's items."""
    first = sequence.value[0]
    line = text.split("\n")[first.start_mark.line]
    before = line[: first.start_mark.column].rstrip()
    if not before.endswith("-"):
        return None
    return len(before) - 1


def _append_block_item(text: str, sequence: SequenceNode, rendered: str) -> str | None:
    """`rendered` (a YAML list item made at column 0) added after a block sequence's last
    item, at its items' indentation."""
    if sequence.flow_style or not sequence.value:
        return None
    column = _dash_column(text, sequence)
    if column is None:
        return None
    at = _after_last_content_line(text, sequence.value[-1])
    pad = " " * column
    lines = rendered.rstrip("\n").split("\n")
    block = "".join(f"\n{pad}{line}" if line else "\n" for line in lines)
    return text[:at] + block + text[at:]


def _append_flow_item(text: str, sequence: SequenceNode, value: str) -> str | None:
    end = sequence.end_mark.index
    if text[end - 1] != "]":
        return None
    inside = text[sequence.start_mark.index + 1 : end - 1]
    joiner = ", " if inside.strip() else ""
    return text[: end - 1] + joiner + value + text[end - 1 :]


def _append_to_list(text: str, sequence: SequenceNode, value: str) -> str | None:
    if sequence.flow_style:
        return _append_flow_item(text, sequence, value)
    return _append_block_item(text, sequence, f"- {value}\n")


def with_example_text(text: str, scenario_id: str, example: dict[str, Any]) -> str | None:
    """The text with `example` after the scenario's last example, or None."""
    root = yaml.compose(text)
    scenario = _item_with_id(_get(root, "scenarios"), scenario_id)
    examples = _get(scenario, "examples")
    if not isinstance(examples, SequenceNode):
        return None
    rendered = yaml.safe_dump(
        [example], allow_unicode=True, sort_keys=False, default_flow_style=False, width=4096
    )
    return _append_block_item(text, examples, rendered)


def with_phrase_text(
    text: str, scenario_id: str, criterion_id: str, phrase: str, where: str
) -> str | None:
    """The text with `phrase` added to the criterion's match (`any` or `not`), or None."""
    root = yaml.compose(text)
    scenario = _item_with_id(_get(root, "scenarios"), scenario_id)
    criterion = _item_with_id(_get(_get(scenario, "rubric"), "criteria"), criterion_id)
    match = _get(criterion, "match")
    value = json.dumps(phrase, ensure_ascii=False)
    if isinstance(match, SequenceNode):
        if where == "any":
            return _append_to_list(text, match, value)
        if not match.flow_style:
            return None
        start, end = match.start_mark.index, match.end_mark.index
        return text[:start] + "{any: " + text[start:end] + f", not: [{value}]}}" + text[end:]
    if not isinstance(match, MappingNode):
        return None
    target = _get(match, where)
    if isinstance(target, SequenceNode):
        return _append_to_list(text, target, value)
    if target is not None:
        return None
    if match.flow_style:
        end = match.end_mark.index
        if text[end - 1] != "}":
            return None
        return text[: end - 1] + f", {where}: [{value}]" + text[end - 1 :]
    first_key = match.value[0][0]
    at = _after_last_content_line(text, match)
    pad = " " * first_key.start_mark.column
    return text[:at] + f"\n{pad}{where}: [{value}]" + text[at:]


def same_meaning(value: Any) -> Any:
    """The data with every `match: {any: [...]}` read as the list it means."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "match" and isinstance(item, dict) and set(item) == {"any"}:
                item = item["any"]
            out[key] = same_meaning(item)
        return out
    if isinstance(value, list):
        return [same_meaning(item) for item in value]
    return value


def patched(
    text: str,
    expected: dict[str, Any],
    scenario_id: str,
    *,
    example: dict[str, Any] | None = None,
    criterion_id: str | None = None,
    phrase: str | None = None,
    where: str | None = None,
) -> str | None:
    """The pack text with the example and/or the phrase added, kept only when it reads back
    as `expected` (the changed data; `match: {any: L}` and `match: L` mean the same); None
    otherwise."""
    result: str | None = text
    try:
        if example is not None and result is not None:
            result = with_example_text(result, scenario_id, example)
        wanted = phrase is not None and where is not None and criterion_id is not None
        if wanted and result is not None:
            assert phrase is not None and where is not None and criterion_id is not None
            result = with_phrase_text(result, scenario_id, criterion_id, phrase, where)
        if result is None or same_meaning(yaml.safe_load(result)) != same_meaning(expected):
            return None
    except yaml.YAMLError:
        return None
    return result


__all__ = ["patched", "same_meaning", "with_example_text", "with_phrase_text"]
