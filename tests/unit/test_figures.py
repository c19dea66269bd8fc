"""The pictures a scientist looks at first (issue #24 items 1, 3, 8): the headline figure of each
kind of run chosen by its physics, journal styling (physical names and scaled units, no offset
labels, the film not yet deposited not drawn as material), maps that read (diverging and
zero-centred colour limits for a signed field, robust limits, the layer outlines at the
interfaces' pixels, crystals drawn as crystals, the extension honoured), and the demo."""

from __future__ import annotations

import re
import tomllib

import numpy as np
import pytest

from conftest import PROBLEMS, cli
from heterofem.postprocess import load_run, plot_run, sample_points
from heterofem.postprocess.headline import (
    bar_label,
    _kymograph_data,
    deposit_top,
    plot_headline,
    run_kind,
    transfer_up,
)
from heterofem.postprocess.maps import draw_map_2d, layer_edges
from heterofem.postprocess.style import (
    NONNEGATIVE,
    colour_limits,
    field_label,
    is_signed,
    scale_for,
    tick_formatter,
)
from heterofem.solver.dolfinx_env import MPI
from heterofem.solver.run import run_case
from heterofem.solver.validation import validate_data

GROWTH = (PROBLEMS / "tio2_vo2_tio2_001_growth_1d.toml").read_text() \
    .replace("end_s = 3800.0", "end_s = 400.0") \
    .replace("output_times_s = [950.0, 1900.0, 2850.0]", "output_times_s = [100.0, 200.0, 300.0]") \
    .replace("thickness_nm = 40.0", "thickness_nm = 6.0") \
    .replace("size_nm = 0.25", "size_nm = 0.5")
VACANCIES = (PROBLEMS / "tio2_vo2_tio2_001_vacancies_1d.toml").read_text() \
    .replace("end_s = 1800.0", "end_s = 10.0") \
    .replace("output_times_s = [1.0, 10.0, 60.0, 600.0]", "output_times_s = [0.1, 1.0]") \
    .replace("size_nm = 0.25", "size_nm = 1.0") \
    .replace("interface_size_nm = 0.05", "interface_size_nm = 0.2")
POLAR = (PROBLEMS / "ruo2_tio2_110_polar_1d.toml").read_text()
STEP = (PROBLEMS / "tio2_vo2_tio2_001_2d_step.toml").read_text() \
    .replace("size_nm = 1.0", "size_nm = 2.0") \
    .replace("interface_size_nm = 0.2", "interface_size_nm = 0.5")


def _run(text: str, out):
    run_case(validate_data(tomllib.loads(text)), out, MPI.COMM_WORLD)
    return load_run(out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("fig")
    return {"growth": _run(GROWTH, base / "growth"), "vacancies": _run(VACANCIES, base / "vac"),
            "polar": _run(POLAR, base / "polar"), "step": _run(STEP, base / "step")}


def _rgb(path):
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).astype(int)


# -- style -----------------------------------------------------------------------------------------
def test_units_are_scaled_not_offset():
    assert scale_for(np.array([3.2e8]), "V/m") == (1e-6, "MV/m")
    assert scale_for(np.array([2e-3]), "V") == (1e3, "mV")
    factor, text = scale_for(np.array([2.5e27]), "m^-3")
    assert factor == 1e-27 and text == "$10^{27}$ m$^{-3}$"
    assert scale_for(np.array([0.3]), "C/m^2") == (1.0, "C/m$^{2}$")
    label, factor = field_label("Ez", "V/m", np.array([-4e5, 2e5]))
    assert label == "electric field $E_z$ (kV/m)" and factor == 1e-3
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_ylim(-1.0, 1.0)
    fmt = tick_formatter()
    fmt.set_axis(ax.yaxis)
    assert fmt(-1e-17) == "0" and fmt(-0.0) == "0" and fmt(-0.5) == "\u22120.5"
    plt.close(fig)


def test_colour_limits_symmetric_for_signed_robust_against_a_spike():
    rng = np.random.default_rng(0)
    field = np.concatenate([rng.normal(0.0, 1.0, 5000), [-40.0]])  # a corner singularity
    assert is_signed("Ex", field)
    lo, hi = colour_limits(field, signed=True)
    assert lo == -hi and 2.0 < hi < 4.0  # the spike does not set the range
    assert colour_limits(field, signed=True, robust=False) == (-40.0, 40.0)
    smooth = np.linspace(0.0, 1.0, 1000)  # a smooth field keeps its min/max
    assert colour_limits(smooth, signed=False) == (0.0, 1.0)
    assert not is_signed("xi", np.array([-1e-6, 0.5, 1.0])) and "xi" in NONNEGATIVE


# -- headline figures ------------------------------------------------------------------------------
def test_kind_of_run_picks_the_headline(runs):
    assert {k: run_kind(r) for k, r in runs.items()} == {
        "growth": "growth", "vacancies": "vacancies", "polar": "polar", "step": "electrostatics"}


def _svg_text(path) -> str:
    svg = path.read_text()
    return " ".join(re.findall(r">([^<>]+)</text>", svg)) + " ".join(
        re.findall(r"<!-- (.*?) -->", svg))


@pytest.mark.parametrize("kind", ["growth", "vacancies", "polar", "step"])
def test_headline_figure_vector_and_labelled(runs, tmp_path, kind):
    run = runs[kind]
    svg = plot_headline(run, tmp_path / "h.svg")
    text = _svg_text(svg)
    assert svg.read_text().count("<svg") == 1
    assert not re.search(r"1e[+-]?\d", text), text  # no offset label ("1e8")
    expect = {"growth": ["oxygen deficiency", "deposit surface", "front", "thickness (nm)"],
              "vacancies": ["vacancy inventory", "O transferred up", "template/film"],
              "polar": ["polarization", "polar displacement", "work", "band"],
              "step": ["electric potential", "electric field"]}[kind]
    for word in expect:
        assert word in text, (word, text[:400])
    pdf = plot_headline(run, tmp_path / "h.pdf")
    assert pdf.read_bytes()[:4] == b"%PDF"


def test_polar_headline_shows_the_work_function_and_its_parts(runs, tmp_path):
    wf = runs["polar"].summary["work_function"]
    text = _svg_text(plot_headline(runs["polar"], tmp_path / "w.svg"))
    assert bar_label(wf["work_function_eV"], signed=False) in text
    assert bar_label(wf["polarization_eV"]) in text
    assert "-0.00" not in text and "+0.00" not in text


def test_bar_labels_have_no_signed_zero():
    assert bar_label(-0.001) == "0.00" and bar_label(0.004) == "0.00"
    assert bar_label(-0.006) == "-0.01" and bar_label(0.25) == "+0.25"
    assert bar_label(-0.0, signed=False) == "0.00" and bar_label(4.3, signed=False) == "4.30"


def test_vacancy_transfer_from_inventories_matches_the_summary(runs):
    """The bottom contact is blocking: what crossed an interface is what the layers below it
    gained (conservation); the figure's curves end at the solver's own transfer numbers."""
    run = runs["vacancies"]
    curves = transfer_up(run)
    final = run.summary["vacancies"]["oxygen_transferred_up_per_m2"]
    assert set(curves) == set(final)
    for name, values in curves.items():
        assert values[0] == 0.0
        assert values[-1] == pytest.approx(final[name], rel=1e-6, abs=1e-9 * max(
            abs(v) for v in final.values()))
    assert curves["template/film"][-1] > 0  # the template takes the film's vacancies


def test_growth_kymograph_leaves_undeposited_film_blank_and_crystals_crystalline(runs):
    run = runs["growth"]
    t, z, delta, xi = _kymograph_data(run)
    ts = run.timeseries
    film_bottom = [lay for lay in run.layers if lay.name == "film"][0].z_bottom_nm
    top_end = film_bottom + ts["deposited_thickness_nm"][-1]
    top_start = film_bottom + ts["deposited_thickness_nm"][0]
    assert np.isnan(delta[0, z > top_start + 0.3]).all()  # nothing above the early surface
    assert np.isfinite(delta[-1, (z < top_end - 0.3)]).all()  # everything below the late one
    template = (z > 21.0) & (z < 31.0)
    assert np.allclose(xi[:, template], 1.0)  # the template is a crystal throughout
    top = deposit_top(run, run.profiles)
    assert top == pytest.approx(top_end, abs=0.6)


def test_profiles_default_to_the_panels_that_matter(runs, tmp_path):
    out = plot_run(runs["growth"], out=tmp_path / "g.svg")
    assert [p.name for p in out] == ["g.svg", "g_profiles.svg"]
    text = _svg_text(out[1])
    assert "crystalline fraction" in text and "oxygen deficiency" in text
    assert "rho" not in text and "eps" not in text  # inputs are not drawn by default


# -- maps ------------------------------------------------------------------------------------------
def test_signed_map_is_zero_centred_and_outlines_sit_on_the_interfaces(runs, tmp_path):
    run = runs["step"]
    png, info = draw_map_2d(run, tmp_path / "ex.png", "Ex")
    lo, hi = info["clim"]
    assert lo == pytest.approx(-hi) and info["cmap"] == "RdBu_r"
    ex = np.asarray(run.fields()["Ex_V_per_m"])
    assert hi < np.abs(ex).max()  # the step corner's singularity is clipped (robust limits)
    img = _rgb(png)
    # far from the step Ex vanishes: the white middle of the diverging map
    r, c = info["pixel"](25.0, 5.0)
    assert np.all(img[r, c] > 225), img[r, c]
    # the layer outline (black) is at the interface's pixel, not a few pixels off
    png, info = draw_map_2d(run, tmp_path / "eps.png", "eps_zz", limits="minmax")
    img = _rgb(png)
    for z in (10.0, 22.0):
        r, c = info["pixel"](25.0, z)
        column = img[r - 6: r + 7, c].sum(axis=1)
        assert abs(int(np.argmin(column)) - 6) <= 2 and column.min() < 200, (z, column)
        above, below = img[r - 5, c], img[r + 5, c]
        assert np.abs(above - below).max() > 30  # two layers, two colours


def test_layer_edges_between_triangles():
    tris = np.array([[0, 1, 2], [1, 3, 2], [2, 3, 4]])
    assert layer_edges(tris, np.array([1, 1, 2])).tolist() == [[2, 3]]


def test_map_files_take_the_extension_one_map_per_field(runs, tmp_path):
    res = cli("plot", str(runs["step"].path), "--field", "phi", "--field", "Ez",
              "--out", str(tmp_path / "m.pdf"))
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["m.pdf", "m_Ez_map.pdf", "m_phi_map.pdf"]
    assert all((tmp_path / n).read_bytes()[:4] == b"%PDF" for n in names)
    res = cli("plot", str(runs["step"].path), "--field", "phi", "--out", str(tmp_path / "s.svg"))
    assert (tmp_path / "s_phi_map.svg").read_text().count("<svg") == 1


# -- the demo --------------------------------------------------------------------------------------
def test_demo_problem_runs_and_draws_its_headline_and_map(tmp_path, monkeypatch, figures):
    """The demo's coupled problem (shortened) runs; `heterofem plot` draws its kymograph, the
    crystalline fraction map with the template drawn as a crystal and nothing above the
    deposit."""
    out = tmp_path / "demo"
    res = cli("run", str(PROBLEMS / "demo_growth_2d_island.toml"), "--out", str(out),
              "--set", "time.end_s=5", "--set", "time.output_times_s=[2.5]")
    assert res.exit_code == 0, res.output
    res = cli("plot", str(out))
    assert res.exit_code == 0, res.output
    for name in ("headline.png", "profiles.png", "xi_map.png", "delta_map.png"):
        assert (out / name).is_file() and _rgb(out / name).std() > 10, name
    run = load_run(out)
    png, info = draw_map_2d(run, tmp_path / "xi.png", "xi")
    img = _rgb(png)
    import matplotlib

    top_colour = np.array(matplotlib.colormaps[info["cmap"]](1.0)[:3]) * 255
    r, c = info["pixel"](3.0, 10.0)  # in the template: a crystal, xi = 1
    assert np.abs(img[r, c] - top_colour).max() <= 3, img[r, c]
    surface = 14.0 + run.timeseries["deposited_thickness_nm"][-1]
    r, c = info["pixel"](3.0, surface + 1.5)  # above the deposit: not material, blank
    assert np.all(img[r, c] > 250), img[r, c]
    assert sample_points(run, [(3.0, surface + 1.5)], fields=["deposited"])["deposited"][0] < 0.5
    _animation_of_a_fraction_spans_zero_to_one(out, tmp_path, monkeypatch, figures)


def _animation_of_a_fraction_spans_zero_to_one(out, tmp_path, monkeypatch, figures):
    """The xi animation's colour bar is 0..1 whatever the values (an undershoot below 0 gave a
    bar from -0.1 to 1), the same in every frame."""
    import heterofem.postprocess.animation as animation

    monkeypatch.setattr(animation, "colour_limits", lambda values, signed: (-0.1, 1.0))
    figures.clear()
    gif = animation.animate_run(out, "xi", tmp_path / "xi.gif")
    assert gif.is_file() and len(figures) == len(load_run(out).times)
    for fig in figures:
        bar = [ax for ax in _all_axes(fig) if hasattr(ax, "_colorbar")][0]
        assert bar.get_ylim() == pytest.approx((0.0, 1.0))


def test_sweep_picture_defaults_to_the_headline_scalars(runs, tmp_path):
    """A sweep of polar runs shows the work function first, not whichever scalar varies."""
    import json
    import shutil

    from heterofem.postprocess import load_sweep

    for k, thickness in enumerate((2.0, 4.0)):
        d = tmp_path / f"t{k}"
        shutil.copytree(runs["polar"].path, d)
        summary = json.loads((d / "summary.json").read_text())
        summary["work_function"]["work_function_eV"] += 0.3 * k
        summary["electrostatics"]["electrostatic_energy_J_per_m2"] *= 1 + k
        summary["wall_time_s"] = 1.0 + k
        (d / "summary.json").write_text(json.dumps(summary))
        cfg = (d / "config.resolved.toml").read_text()
        (d / "config.resolved.toml").write_text(
            cfg.replace("thickness_nm = 3.5", f"thickness_nm = {thickness}", 1))
    sweep = load_sweep(tmp_path)
    names = sweep.default_quantities()
    assert names[0] == "work_function.work_function_eV"
    assert "wall_time_s" not in names and all("mesh" not in n for n in names)


# -- text that reads (#24 audit: labels, colour bars, sweep pictures) ------------------------------
@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures saved while the test runs (drawn again at their own size), each
    with its ``text_problems`` (:func:`_text_problems`)."""
    from matplotlib.figure import Figure

    saved, save = [], Figure.savefig

    def capture(fig, *args, **kwargs):
        result = save(fig, *args, **kwargs)
        fig.canvas.draw()
        fig.text_problems = _text_problems(fig)  # now: a closed figure loses its renderer
        saved.append(fig)
        return result

    monkeypatch.setattr(Figure, "savefig", capture)
    return saved


def _all_axes(fig) -> list:
    """The figure's axes and their insets (a map's colour bar)."""
    return [a for ax in fig.axes for a in (ax, *ax.child_axes)]


def _texts(fig):
    """(kind, text, window extent, axes) of every visible text: titles, axis labels, the tick
    labels drawn, annotations, legend entries."""
    r = fig.canvas.get_renderer()
    out = []

    def add(t, kind, ax=None):
        if t is not None and t.get_visible() and t.get_text().strip():
            out.append((kind, t.get_text(), t.get_window_extent(r), ax))

    add(fig._suptitle, "suptitle")
    for ax in (a for a in _all_axes(fig) if a.get_visible()):
        add(ax.title, "title", ax)
        for axis, kind in ((ax.xaxis, "xlabel"), (ax.yaxis, "ylabel")):
            add(axis.label, kind, ax)
            for tick in axis._update_ticks():
                add(tick.label1 if tick.label1.get_visible() else None, "tick", ax)
                add(tick.label2 if tick.label2.get_visible() else None, "tick", ax)
        for t in ax.texts:
            add(t, "annotation", ax)
        if ax.get_legend() is not None:
            for t in ax.get_legend().get_texts():
                add(t, "legend", ax)
    return out


def _text_problems(fig) -> list:
    """Texts that overlap another text (twin axes' identical tick labels aside), leave the
    figure, or a y label much taller than its panel (it may reach a little into the gap
    between panels)."""
    texts, box, bad = _texts(fig), fig.bbox, []
    for kind, s, b, ax in texts:
        if b.x0 < box.x0 - 1 or b.x1 > box.x1 + 1 or b.y0 < box.y0 - 1 or b.y1 > box.y1 + 1:
            bad.append(("outside the figure", s))
        if kind == "ylabel" and b.height > ax.get_window_extent().height * 1.15:
            bad.append(("taller than its panel", s))
    for i, (_, s1, b1, _) in enumerate(texts):
        for _, s2, b2, _ in texts[i + 1:]:
            dx = min(b1.x1, b2.x1) - max(b1.x0, b2.x0)
            dy = min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
            if dx > 1 and dy > 1 and not (s1 == s2 and dx > 0.9 * b1.width):
                bad.append(("overlap", s1, s2))
    return bad


@pytest.mark.parametrize("kind", ["growth", "vacancies", "polar", "step"])
def test_figure_texts_neither_overlap_nor_overrun(runs, tmp_path, figures, kind):
    """Every label of the default pictures (headline, profiles, maps) reads: no text on
    another, none outside the figure, no y label taller than its panel."""
    plot_run(runs[kind], out=tmp_path / f"{kind}.png")
    assert len(figures) >= 2
    for fig in figures:
        assert fig.text_problems == [], fig.get_suptitle() or fig.axes[0].get_title()


def test_text_check_catches_an_overlong_label(figures, tmp_path):
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(2, 1, figsize=(2, 2))
    a.set_ylabel("a label far too long for this small panel (m$^{-2}$)")
    b.set_ylabel("short")
    a.annotate("here", (0.5, 0.5), xycoords="axes fraction")
    a.annotate("here too", (0.5, 0.5), xycoords="axes fraction")
    fig.savefig(tmp_path / "x.png")
    plt.close(fig)
    kinds = [p[0] for p in figures[0].text_problems]
    assert "taller than its panel" in kinds and "overlap" in kinds


def test_fraction_profiles_are_linear_over_their_whole_range(runs, tmp_path, figures):
    """xi is a fraction: a linear axis from 0 to 1, not a log axis down to 1e-8."""
    plot_run(runs["growth"], field="xi", out=tmp_path / "xi.png")
    ax = figures[0].axes[0]
    assert ax.get_yscale() == "linear"
    lo, hi = ax.get_ylim()
    assert lo <= 0.0 and hi >= 1.0 and hi - lo < 1.2


def test_map_colour_bar_is_as_tall_as_the_map(runs, tmp_path, figures):
    draw_map_2d(runs["step"], tmp_path / "m.png", "phi")
    fig = figures[0]
    img = [ax for ax in _all_axes(fig) if not hasattr(ax, "_colorbar")][0]
    bar = [ax for ax in _all_axes(fig) if hasattr(ax, "_colorbar")][0]
    h_img, h_bar = img.get_window_extent().height, bar.get_window_extent().height
    assert h_bar == pytest.approx(h_img, rel=0.02)


def test_sweep_picture_reads_physical_names_in_one_column(runs, tmp_path, figures):
    """A sweep picture names its scalars physically ("work function"), scales them (no
    "x 10^-3" on the axis), labels the swept thickness "film thickness (nm)" and keeps its
    texts apart; three panels or fewer fit one journal column."""
    import json
    import shutil

    from heterofem.postprocess import load_sweep, plot_sweep
    from heterofem.postprocess.style import SINGLE_COLUMN_IN
    from heterofem.postprocess.sweep import scalar_label

    for k, thickness in enumerate((2.0, 4.0)):
        d = tmp_path / "sw" / f"t{k}"
        shutil.copytree(runs["polar"].path, d)
        summary = json.loads((d / "summary.json").read_text())
        summary["work_function"]["work_function_eV"] += 0.3 * k
        summary["polarization"]["max_abs_P_C_per_m2"] = 1e-3 * (1 + k)
        (d / "summary.json").write_text(json.dumps(summary))
        cfg = (d / "config.resolved.toml").read_text()
        (d / "config.resolved.toml").write_text(
            cfg.replace("thickness_nm = 3.5", f"thickness_nm = {thickness}", 1))
    sweep = load_sweep(tmp_path / "sw")
    plot_sweep(sweep, ["work_function_eV", "max_abs_P_C_per_m2"], tmp_path / "s.png")
    fig = figures[0]
    assert fig.get_figwidth() == pytest.approx(SINGLE_COLUMN_IN)
    ylabels = [ax.get_ylabel() for ax in fig.axes if ax.get_visible()]
    assert ylabels == [r"work function $\Phi$ (eV)", r"largest $|P|$ (mC/m$^{2}$)"]
    assert all(ax.get_xlabel() == "film thickness (nm)" for ax in fig.axes if ax.get_visible())
    assert all(not ax.yaxis.get_offset_text().get_text() for ax in fig.axes)
    assert fig.text_problems == []
    assert scalar_label("vacancies.mean_delta.film") == "vacancies.mean_delta.film"
    assert "\n" in scalar_label("strain.film.critical_thickness_x_nm.more")


def test_maps_are_not_warped_unless_asked():
    """No warp by default, in the CLI and in the Python API (issue #24: P_z drawn warped x5)."""
    import inspect

    from heterofem.postprocess import plot
    from heterofem.solver.cli import main

    command = main.commands["plot"]
    warp = [p for p in command.params if p.name == "warp"][0]
    assert warp.default == "none"
    for function in (plot, plot_run):
        assert inspect.signature(function).parameters["warp"].default == "none"


def test_line_animation_draws_profiles_as_the_headline_does(runs):
    """A 1D animation's frames: nothing above the deposit surface, the template a crystal."""
    from heterofem.postprocess.animation import _profile_values

    run = runs["growth"]
    prof = run.profile(run.times[1])
    xi = _profile_values(run, prof, run.column("xi", prof))
    z = np.asarray(prof["z_nm"], dtype=float)
    top = deposit_top(run, prof)
    assert np.isnan(xi[z > top + 1e-6]).all() and np.isfinite(xi[z <= top]).all()
    assert np.allclose(xi[(z > 21.0) & (z < 31.0)], 1.0)
