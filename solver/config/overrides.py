"""Reading a TOML config and applying ``--set dotted.key=value`` overrides to its data
(before validation: the schema then judges the result like any other value).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from heterofem.solver.config.errors import ConfigError


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(
            [(str(path), f"cannot read the file ({exc.strerror}); check the path and permissions")]
        ) from None
    except UnicodeDecodeError:
        raise ConfigError([(str(path), "not a text file; give a TOML config")]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([(str(path), f"invalid TOML: {exc}; fix the syntax there")]) from None


def _parse_value(text: str) -> Any:
    """A --set value is read as a TOML value (3.5, true, "x", [1, 2]); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> list[tuple[str, str]]:
    """Apply ``dotted.key=value`` overrides in place; returns problems instead of raising.

    List items are addressed by 0-based index (``layers.1.thickness_nm``) or, for lists of
    named tables, by name (``layers.film.thickness_nm``). Tables are created as needed, so
    ``boundary.top.phi_V=1`` works on a config without that table; unknown keys are then
    caught by the schema.
    """
    problems: list[tuple[str, str]] = []
    for item in overrides:
        if "=" not in item:
            problems.append((item, "a --set needs the form dotted.key=value"))
            continue
        key, text = item.split("=", 1)
        # quotes around a part are TOML-style quoting of a name (boundary."film/gap".phi_V)
        parts = [part.strip().strip('"').strip("'") for part in key.strip().split(".")]
        node: Any = data
        try:
            for i, part in enumerate(parts[:-1]):
                node = _descend(node, part, create=True)
            last = parts[-1]
            if isinstance(node, list):
                node[_list_index(node, last)] = _parse_value(text.strip())
            else:
                node[last] = _parse_value(text.strip())
        except (KeyError, IndexError, TypeError) as exc:
            problems.append((key, f"--set cannot address this key ({exc}); check the path"))
    return problems


def _list_index(node: list, part: str) -> int:
    """The 0-based index ``part`` (or the item named ``part``) of a list; negative indices are
    refused (a config key names one item, counted from the bottom layer)."""
    if part.startswith("-") and part[1:].isdigit():
        raise IndexError(f"negative index {part}: items count from 0 (0 to {len(node) - 1} "
                         "here), or address a layer by its name")
    if part.isdigit():
        idx = int(part)
        if idx >= len(node):
            raise IndexError(f"index {idx} is past the end: the list has {len(node)} item(s)")
        return idx
    for i, item in enumerate(node):
        if isinstance(item, dict) and item.get("name") == part:
            return i
    raise KeyError(f"no list item named {part!r}")


def _descend(node: Any, part: str, create: bool) -> Any:
    if isinstance(node, list):
        return node[_list_index(node, part)]
    if not isinstance(node, dict):
        raise TypeError(f"{part!r} is inside a value, not a table")
    if part not in node:
        if not create:
            raise KeyError(part)
        node[part] = {}
    return node[part]

