"""docs/extending.md lists every named quantity (solver/physics/quantities.py) with its unit,
its providers and its readers among the built-in physics: the table is generated here and the
doc must contain it verbatim, so it cannot rot. To refresh the doc after adding a quantity:

    .venv/bin/python tests/unit/test_docs_extending.py   # prints the table to paste
"""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"
BEGIN, END = "<!-- quantities: begin (generated) -->", "<!-- quantities: end -->"


def _builtin_classes() -> list[type]:
    """The library's physics classes, in coupling order (a physics registered by a test or a
    user script is not part of the doc)."""
    from heterofem.solver.physics import registry

    classes = [registry.physics_class(s) for s in registry.switches()]
    return [c for c in classes if c.__module__.startswith("heterofem.solver.physics.")]


def quantity_table() -> str:
    """The Markdown tables of the catalogued quantities, and of the unknowns other modules
    read, with the built-in physics that provide and read them."""
    from heterofem.solver.physics import quantities

    catalogue = {value for key, value in vars(quantities).items()
                 if key.isupper() and isinstance(value, str) and value in quantities.QUANTITIES}
    classes = _builtin_classes()

    def names(pick) -> str:
        return ", ".join(c.name for c in classes if pick(c)) or "-"

    def reads(q) -> str:
        return names(lambda c: q in c.reads)

    def reads_optional(q) -> str:
        return names(lambda c: q in c.reads_optional)

    rows = ["| quantity | unit | summed over providers | provided by | read by "
            "| read when provided by | meaning |", "|---|---|---|---|---|---|---|"]
    for name, q in quantities.QUANTITIES.items():
        if name not in catalogue:
            continue
        provided = names(lambda c: name in c.provides)
        if name == quantities.TEMPERATURE:
            provided = "the run (`run.temperature_K`)"
        rows.append(f"| `{name}` | {q.unit or '-'} | {'yes' if q.additive else 'no'} "
                    f"| {provided} | {reads(name)} | {reads_optional(name)} | {q.doc} |")
    unknowns = [n for c in classes for n in c.reads + c.reads_optional if n not in catalogue]
    rows += ["", "| unknown (read as a quantity) | read by | read when provided by |",
             "|---|---|---|"]
    for name in dict.fromkeys(unknowns):
        rows.append(f"| `{name}` | {reads(name)} | {reads_optional(name)} |")
    return "\n".join(rows)


def test_extending_doc_lists_every_quantity():
    text = DOC.read_text()
    assert BEGIN in text and END in text, f"{DOC.name} lost its generated-table markers"
    listed = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    expected = quantity_table()
    assert listed == expected, (
        f"{DOC.name}'s table of quantities is out of date; replace it with:\n{expected}")


if __name__ == "__main__":
    print(quantity_table())
