"""Configuration errors: :class:`ConfigError` (every problem as a dotted key and its fix),
pydantic's errors translated into such problems (allowed keys and did-you-mean for unknown
keys), and the partial config that lets the cross-checks run beside schema errors.
"""

from __future__ import annotations

import copy
import difflib
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from heterofem.solver.config.schema import Config


class ConfigError(Exception):
    """One or more problems with a configuration.

    ``problems`` is a list of ``(key, message)`` pairs; the message says what is wrong and how
    to fix it.
    """

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__(self.format())

    def format(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the configuration:"
        return "\n".join([head] + [f"  - {key}: {msg}" for key, msg in self.problems])



#: pydantic's labels of union branches and validator wrappers in an error location
def _is_branch_label(part: str) -> bool:
    return (part in ("float", "int", "str", "bool", "list", "dict") or "[" in part
            or part.startswith(("constrained-", "function-", "literal", "lax-", "strict-")))


def _schema_errors(exc: ValidationError) -> list[tuple[tuple[str, ...], str, str]]:
    """(location, pydantic error type, message) of every schema error, the location as the
    config's dotted path (branch labels dropped); one error per location, preferring a value
    error over the type mismatches of the other branches of a union."""
    found: dict[tuple[str, ...], tuple[str, str]] = {}
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"] if not _is_branch_label(str(p)))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(list(loc[:-1]))
            close = difflib.get_close_matches(loc[-1], allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            msg = f"unknown key; {hint}allowed keys: {', '.join(allowed) or '(none)'}"
        elif err["type"] == "missing":
            msg = "required key is missing; add it"
        elif "input" in err and err["type"] not in ("model_type", "dict_type", "list_type"):
            msg = f"{msg} (got {err['input']!r}){_fix_hint(err['type'], err['input'])}"
        if loc not in found or found[loc][0].endswith("_type"):
            found[loc] = (err["type"], msg)
    return [(loc, typ, msg) for loc, (typ, msg) in found.items()]


def _fix_hint(kind: str, given: Any) -> str:
    """How to fix a value of the wrong type (strict schema: no conversions)."""
    if kind == "finite_number":
        return "; NaN and inf are not allowed: give a finite number"
    if kind in ("float_type", "int_type", "bool_type") and isinstance(given, str):
        return "; write it without quotes (a quoted value is text)"
    if kind == "bool_type":
        return "; write true or false"
    return ""


def pydantic_problems(exc: ValidationError, data: dict[str, Any] | None = None
                       ) -> list[tuple[str, str]]:
    """The schema errors as ``(dotted key, message)`` problems."""
    return [(".".join(loc) or "(top level)", msg) for loc, _, msg in _schema_errors(exc)]


def _unwrap(tp: Any) -> Any:
    """The type inside ``Annotated[...]`` and ``X | None`` (the first model, dict or list of a
    union, else its first member)."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            nested = [a for a in members if _is_model(_unwrap(a))
                      or get_origin(_unwrap(a)) in (dict, list)]
            tp = (nested or members)[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _type_at(loc: list[str] | tuple[str, ...]) -> Any:
    """The schema type at a dotted location (``boundary.top`` -> BoundaryCondition); None
    where the schema has no such key."""
    tp: Any = Config
    for part in loc:
        tp = _unwrap(tp)
        if _is_model(tp):
            field = tp.model_fields.get(part)
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        else:
            return None
    return _unwrap(tp)


def _allowed_keys(loc: list[str]) -> list[str]:
    """The keys the schema accepts at a dotted location (for did-you-mean hints)."""
    tp = _type_at(loc)
    return sorted(tp.model_fields) if _is_model(tp) else []


def _placeholder(annotation: Any) -> Any:
    """A valid stand-in for a required text, choice or positive number (None: no stand-in)."""
    tp = _unwrap(annotation)
    if get_origin(tp) is Literal:
        return get_args(tp)[0]
    return {str: "placeholder", float: 1.0}.get(tp)


def _drop_bad_value(data: dict[str, Any], loc: tuple[str, ...]
                    ) -> tuple[tuple[str, ...], bool] | None:
    """Remove the value at ``loc`` (or the nearest enclosing one) that the schema can do
    without: an unknown key, an optional field (its default takes over) or a dict entry; a
    required field of a list item (a layer, a feature) gets a placeholder instead, since the
    item cannot go without renumbering the others. Returns (the path, whether it was an
    unknown key) or None (a required value with no stand-in)."""
    for n in range(len(loc), 0, -1):
        parent_path, last = loc[:n - 1], loc[n - 1]
        parent: Any = data
        for part in parent_path:
            if isinstance(parent, list) and part.isdigit() and int(part) < len(parent):
                parent = parent[int(part)]
            elif isinstance(parent, dict) and part in parent:
                parent = parent[part]
            else:
                parent = None
                break
        if not isinstance(parent, dict):
            continue
        ptype = _type_at(parent_path)
        if _is_model(ptype):
            field = ptype.model_fields.get(last)
            in_list = bool(parent_path) and parent_path[-1].isdigit()
            if field is not None and field.is_required():
                stand_in = _placeholder(field.annotation) if in_list else None
                if stand_in is None:
                    continue
                parent[last] = stand_in
                return loc[:n], False
            if last not in parent:
                continue
            del parent[last]
            return loc[:n], field is None
        if last not in parent:
            continue
        if get_origin(ptype) is dict:
            del parent[last]
            return loc[:n], False
    return None


#: stands in for a [[layers]] list that failed the schema, so that the checks that do not
#: read the layers still run (those that do are skipped: "layers" is marked bad)
_PLACEHOLDER_LAYERS = [{"name": "placeholder", "material": "vacuum", "thickness_nm": 1.0}]


def partial_config(data: dict[str, Any], exc: ValidationError
                    ) -> tuple[Config | None, set[tuple[str, ...]]]:
    """The config without the values that failed the schema (defaults in their place), and
    the paths removed: the cross-checks that read none of them can still run, so that one
    pass reports every problem. (None, ...) when no valid config remains."""
    work = copy.deepcopy(data)
    bad: set[tuple[str, ...]] = set()
    for _ in range(8):  # removing a value can expose a dependent one (model validators)
        for loc, _typ, _msg in _schema_errors(exc):
            dropped = _drop_bad_value(work, loc)
            if dropped is None and loc and loc[0] == "layers":
                work["layers"], dropped = copy.deepcopy(_PLACEHOLDER_LAYERS), (("layers",), False)
            if dropped is None:
                return None, bad
            if not dropped[1]:  # an unknown key removed changes nothing the checks read
                bad.add(dropped[0])
        try:
            return Config.model_validate(work), bad
        except ValidationError as again:
            exc = again
    return None, bad

