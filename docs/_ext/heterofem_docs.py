"""Sphinx directives that generate pages of the heterofem documentation from the code, so the
documentation cannot drift from it:

- ``heterofem-config-reference``: every section and key of the config file from the pydantic
  schema (:class:`heterofem.solver.config.schema.Config`): type, default, description; and the
  JSON schema for editors written to the HTML output (``heterofem.schema.json``);
- ``heterofem-gallery``: each problem in problems/ with the first lines of its comment header
  and its headline figure (docs/gallery/<problem>.png, written by docs/gallery/make_gallery.py).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

REPO = Path(__file__).resolve().parents[2]


def config_schema() -> dict:
    """The JSON schema of a heterofem config file (pydantic)."""
    from heterofem.solver.config.schema import Config

    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "heterofem config (TOML)"
    return schema


def _type_text(prop: dict, defs: dict) -> str:
    if "$ref" in prop:
        return "table: " + prop["$ref"].split("/")[-1]
    if "anyOf" in prop:
        return " or ".join(_type_text(p, defs) for p in prop["anyOf"])
    if prop.get("type") == "array":
        return "list of " + _type_text(prop.get("items", {}), defs)
    if "enum" in prop:
        return " | ".join(repr(v) for v in prop["enum"])
    if "const" in prop:
        return repr(prop["const"])
    return prop.get("type", "any")


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|") or " "


def config_reference_rst(schema: dict) -> list[str]:
    """long: RST for the config reference: one section per table of the schema, a list-table
    of its keys (key, type, default, description)."""
    defs = schema.get("$defs", {})
    lines: list[str] = []
    tables = [("Config (top level)", schema)] + sorted(defs.items())
    for name, spec in tables:
        props = spec.get("properties")
        if not props:
            continue
        lines += [f".. rubric:: {name}", ""]
        if spec.get("description"):
            lines += [" ".join(spec["description"].split()), ""]
        lines += [".. list-table::", "   :header-rows: 1", "   :widths: 18 22 14 46", "",
                  "   * - key", "     - type", "     - default", "     - description"]
        required = set(spec.get("required", []))
        for key, prop in props.items():
            default = "(required)" if key in required else json.dumps(prop.get("default", None))
            desc = prop.get("description", "")
            lines += [f"   * - ``{key}``", f"     - {_cell(_type_text(prop, defs))}",
                      f"     - {_cell(default)}", f"     - {_cell(desc)}"]
        lines.append("")
    return lines


class ConfigReference(SphinxDirective):
    def run(self):
        schema = config_schema()
        out = Path(self.env.app.outdir) / "heterofem.schema.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(schema, indent=1))
        container = nodes.section()
        container.document = self.state.document
        self.state.nested_parse(StringList(config_reference_rst(schema)), self.content_offset,
                                container)
        return container.children


def _header(path: Path, n: int = 8) -> str:
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").rstrip())
    return " ".join(lines[:n])


class Gallery(SphinxDirective):
    def run(self):
        src = Path(self.env.srcdir)
        lines: list[str] = []
        for toml in sorted((REPO / "problems").glob("*.toml")):
            cfg = tomllib.loads(toml.read_text())
            title = toml.stem
            lines += [f".. rubric:: {title}", "",
                      f"``problems/{toml.name}``: {cfg['run'].get('dimension', 1)}D, layers "
                      + ", ".join(f"{lay['name']} ({lay.get('material', '?')})"
                                  for lay in cfg.get("layers", [])) + ".", "",
                      _header(toml).replace("*", "\\*").replace("`", "``") or "", ""]
            png = src / "gallery" / f"{toml.stem}.png"
            if png.is_file():
                lines += [f".. image:: gallery/{png.name}", "   :width: 420px",
                          f"   :alt: headline figure of {toml.stem}", ""]
            else:
                lines += ["*(no picture: the run takes minutes; run it and* "
                          f"``heterofem plot`` *its directory)*", ""]
        container = nodes.section()
        container.document = self.state.document
        self.state.nested_parse(StringList(lines), self.content_offset, container)
        return container.children


def _escape_stars(app, ctx, lines) -> None:
    """Click help texts are plain text: a '*' (problems/*.toml) is not RST emphasis."""
    for i, line in enumerate(lines):
        if "*" in line and not line.lstrip().startswith(".."):
            lines[i] = line.replace("\\*", "*").replace("*", "\\*")


def setup(app):
    for event in ("description", "options", "arguments", "epilog"):
        app.connect(f"sphinx-click-process-{event}", _escape_stars)
    app.add_directive("heterofem-config-reference", ConfigReference)
    app.add_directive("heterofem-gallery", Gallery)
    return {"parallel_read_safe": True, "version": "1"}
