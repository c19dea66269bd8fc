"""Post-processing (heterofem.postprocess, ``heterofem plot``): the API reads runs, sweeps and
field files (also written by two ranks); the pictures show what they should where they should
(layer shading at the interfaces' pixels, map colours of the field's values, reference points);
animations have one frame per output time; broken directories give a clear message."""

from __future__ import annotations

import csv
import json
import shutil
import tomllib

import numpy as np
import pytest

from conftest import PROBLEMS, heterofem
from heterofem.postprocess import (
    PlotError,
    animate_run,
    compare_runs,
    load_run,
    load_sweep,
    plot_map,
    plot_profiles,
    plot_run,
    plot_sweep,
    render_map,
    sample_line,
    sample_points,
)
from heterofem.postprocess.plot import layer_colours
from heterofem.solver.validation import validate_data
from heterofem.solver.dolfinx_env import MPI
from heterofem.solver.run import run_case

# small, fast versions of the problems
ONE_D = (PROBLEMS / "ruo2_tio2_110_1d.toml").read_text() \
    .replace("size_nm = 0.5", "size_nm = 1.0") \
    .replace("interface_size_nm = 0.05", "interface_size_nm = 0.2")
TWO_D = (PROBLEMS / "tio2_vo2_tio2_001_2d_step.toml").read_text() \
    .replace("size_nm = 1.0", "size_nm = 2.0") \
    .replace("interface_size_nm = 0.2", "interface_size_nm = 0.5")
THREE_D = ONE_D.replace("dimension = 1", "dimension = 3") \
    .replace("size_nm = 1.0", "size_nm = 2.0\nwidth_nm = 8.0\ndepth_nm = 6.0") \
    .replace("interface_size_nm = 0.2", "interface_size_nm = 1.0")
TRANSIENT = (PROBLEMS / "tio2_vo2_tio2_001_vacancies_1d.toml").read_text() \
    .replace("end_s = 1800.0", "end_s = 10.0") \
    .replace("output_times_s = [1.0, 10.0, 60.0, 600.0]", "output_times_s = [0.1, 1.0]") \
    .replace("size_nm = 0.25", "size_nm = 1.0") \
    .replace("interface_size_nm = 0.05", "interface_size_nm = 0.2")


def _run(text: str, out):
    cfg = validate_data(tomllib.loads(text))
    run_case(cfg, out, MPI.COMM_WORLD)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("pp")
    return {"1d": _run(ONE_D, base / "r1d"), "2d": _run(TWO_D, base / "r2d"),
            "3d": _run(THREE_D, base / "r3d"), "transient": _run(TRANSIENT, base / "vac")}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    base = tmp_path_factory.mktemp("sweep")
    rows = []
    for t in (2.0, 3.5, 5.0):
        out = _run(ONE_D.replace("thickness_nm = 3.5", f"thickness_nm = {t}"), base / f"t_{t:g}nm")
        es = json.loads((out / "summary.json").read_text())["electrostatics"]
        rows.append({"thickness_nm": t, "energy_J_m2": es["electrostatic_energy_J_per_m2"]})
    with open(base / "table.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (base / "notes").mkdir()  # not a run: ignored
    return base


def _rgb(path):
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).astype(int)


# -- the API ---------------------------------------------------------------------------------------
def test_load_run_reads_summary_profiles_config_and_fields(runs):
    run = load_run(runs["2d"])
    assert run.dimension == 2 and run.converged and run.times == [0.0]
    assert [lay.name for lay in run.layers] == ["substrate", "template", "film", "gap"]
    assert run.layers[2].z_bottom_nm == 22.0 and run.total_thickness_nm == 32.0
    assert {"z_nm", "layer", "phi_V", "Ez_V_per_m"} <= set(run.profiles)
    assert run.profiles["layer"][0] == "substrate"
    grid = run.fields()
    assert {"phi_V", "layer_id", "Ez_V_per_m", "eps_zz"} <= set(grid.array_names)
    assert not any(n.startswith("vtk") for n in grid.array_names)
    assert sorted(np.unique(grid.cell_data["layer_id"]).astype(int)) == [1, 2, 3, 4]
    phi_max = run.summary["electrostatics"]["phi_max_V"]
    assert grid.point_data["phi_V"].max() == pytest.approx(phi_max)
    assert run.label("phi_V") == "phi [V]" and run.column("phi") == "phi_V"
    assert run.timeseries is None
    # the terrace step (0.6 nm at x = 10 nm) moves the film/gap interface on the centre line
    spans = {lay.name: (a, b) for lay, a, b in run.layer_spans}
    assert spans["film"][1] == pytest.approx(28.6, abs=1e-6)


def test_layer_spans_from_the_summary_or_from_the_fields(runs, tmp_path):
    """The solver writes the interface heights on the profile line to summary.json; a run
    directory without them (written before) gets the same spans from the fields' layer_id."""
    run = load_run(runs["2d"])
    assert run.summary["interfaces"]["film/gap"] == {"z_nm": pytest.approx(28.6),
                                                     "below": "film", "above": "gap"}
    old = tmp_path / "old"
    shutil.copytree(runs["2d"], old)
    summary = json.loads((old / "summary.json").read_text())
    del summary["interfaces"]
    (old / "summary.json").write_text(json.dumps(summary))
    new, bisected = run.layer_spans, load_run(old).layer_spans
    assert [lay.name for lay, _, _ in new] == [lay.name for lay, _, _ in bisected]
    for (_, a0, b0), (_, a1, b1) in zip(new, bisected):
        assert (a0, b0) == pytest.approx((a1, b1), abs=1e-6)


def test_split_modules_keep_every_name_importable():
    """api.py and plot.py were split into modules (files, rundir, compare, sweep; drawing,
    lines, maps, animation, surface); the names they held import from them as before."""
    import importlib

    import heterofem.postprocess as pp

    # (heterofem.postprocess.plot, the attribute, is the function plot: import the modules)
    api = importlib.import_module("heterofem.postprocess.api")
    plot = importlib.import_module("heterofem.postprocess.plot")

    for name in ("Comparison", "Layer", "PlotError", "Reference", "Run", "Sweep", "compare_runs",
                 "flat_scalars", "is_root", "is_sweep_dir", "load_run", "load_sweep",
                 "pieces_of", "problem_references", "quiet_vtk", "read_csv_columns",
                 "read_reference", "sample_line", "sample_points", "unit_of"):
        assert getattr(api, name) is not None, name
    for name in plot.__all__ + ["layer_colours", "profile_columns", "write_animation",
                                "LINE_FORMATS", "MAP_FORMATS", "ANIMATION_DEFAULTS"]:
        assert getattr(plot, name) is not None, name
    for name in pp.__all__:
        assert getattr(pp, name) is not None, name
    assert plot.PlotError is api.PlotError is pp.PlotError


def test_sample_line_reproduces_profiles_csv(runs):
    run = load_run(runs["2d"])
    z = run.profiles["z_nm"]
    x = run.lateral_centre_nm[0]
    line = sample_line(run, (x, z[0]), (x, z[-1]), n=len(z), fields=["phi"])
    assert set(line) >= {"s_nm", "x_nm", "z_nm", "phi_V"}
    assert np.allclose(line["z_nm"], np.linspace(z[0], z[-1], len(z)))
    at = sample_points(run, run.centre_line_points(z), fields=["phi"])
    assert np.max(np.abs(at["phi_V"] - run.profiles["phi_V"])) < 1e-6
    # off the mesh: NaN, not an error
    out = sample_line(run, (x, 30.0), (x, 40.0), n=11, fields=["phi"])
    assert np.isnan(out["phi_V"][-1]) and np.isfinite(out["phi_V"][0])
    with pytest.raises(PlotError, match=r"\(x, z\)"):
        sample_line(run, (0.0,), (1.0,), n=5)


def test_compare_runs(runs, tmp_path):
    same = compare_runs([runs["1d"], runs["1d"]], "phi")
    assert same.max_difference == 0.0
    other = _run(ONE_D.replace("phi_V = 1.0", "phi_V = 1.5"), tmp_path / "other")
    comp = compare_runs([runs["1d"], other], "phi", labels=["1 V", "1.5 V"], out=tmp_path / "c.png")
    assert comp.max_abs_diff["1.5 V"] == pytest.approx(0.5, rel=1e-6)  # at the top contact
    assert (tmp_path / "c.png").stat().st_size > 10_000


# -- line profiles ---------------------------------------------------------------------------------
def _dark_columns(img, frac=0.4):
    dark = img.sum(axis=2) < 200
    longest = np.array([_longest_run(dark[:, j]) for j in range(img.shape[1])])
    return np.flatnonzero(longest >= frac * img.shape[0])


def _longest_run(mask):
    best = cur = 0
    for m in mask:
        cur = cur + 1 if m else 0
        best = max(best, cur)
    return best


def test_profile_plot_shades_layers_at_the_interfaces(runs, tmp_path):
    run = load_run(runs["1d"])
    out = plot_profiles(run, tmp_path / "phi.png", ["phi"])
    img = _rgb(out)
    cols = _dark_columns(img)
    left, right = cols.min(), cols.max()  # the axes' spines
    assert right - left > 0.5 * img.shape[1]
    # rows inside the axes: between its top and bottom spines
    dark_rows = np.flatnonzero((img[:, left + 5: right - 5].sum(axis=2) < 200).mean(axis=1) > 0.9)
    top, bottom = dark_rows.min(), dark_rows.max()
    rows = np.arange(top + 5, bottom - 5, 3)
    band = img[rows]  # (rows, width, 3)

    def pixel(z):
        return left + (right - left) * z / run.total_thickness_nm

    # each layer's middle has the layer's shade; the shade changes at each interface's pixel
    colours = [np.array(c[:3]) * 255 for c in layer_colours(run)]
    for lay, colour in zip(run.layers, colours):
        mid = int(round(pixel(0.5 * (lay.z_bottom_nm + lay.z_top_nm))))
        median = np.median(band[:, mid], axis=0)
        assert np.abs(median - colour).max() <= 3, (lay.name, median, colour)
    for z in run.interfaces_nm:
        x = pixel(z)
        lo, hi = int(np.floor(x)) - 3, int(np.ceil(x)) + 3
        before = np.median(band[:, lo - 3], axis=0)
        after = np.median(band[:, hi + 3], axis=0)
        assert np.abs(before - after).max() > 20  # the shade changes here...
        assert np.abs(np.median(band[:, lo - 10], axis=0) - before).max() <= 3  # ...not before
        assert np.abs(np.median(band[:, hi + 10], axis=0) - after).max() <= 3  # ...nor after


def test_profile_plot_formats_and_log_axis(runs, tmp_path):
    run = load_run(runs["transient"])
    svg = plot_profiles(run, tmp_path / "p.svg", ["delta"]).read_text()
    assert svg.lstrip().startswith("<?xml")
    assert (tmp_path / "p.svg").read_text().count("<svg") == 1
    assert plot_profiles(run, tmp_path / "p.pdf").read_bytes()[:4] == b"%PDF"
    with pytest.raises(PlotError, match="cannot write a line plot as '.xyz'"):
        plot_profiles(run, tmp_path / "p.xyz")
    with pytest.raises(PlotError, match="no profile column matches nope"):
        plot_profiles(run, tmp_path / "p.png", ["nope"])


# -- maps ------------------------------------------------------------------------------------------
def _pixel_of(plotter, point, height):
    from vtkmodules.vtkRenderingCore import vtkCoordinate

    c = vtkCoordinate()
    c.SetCoordinateSystemToWorld()
    c.SetValue(*point)
    x, y = c.GetComputedDoubleDisplayValue(plotter.renderer)
    return int(round(height - 1 - y)), int(round(x))


def test_2d_map_colours_are_the_field_values(runs, tmp_path):
    import matplotlib

    run = load_run(runs["2d"])
    es = run.summary["electrostatics"]
    plotter, info = render_map(run, "phi")
    try:
        assert info["array"] == "phi_V" and info["association"] == "point" and not info["log"]
        # the colour range is the field's min/max
        assert info["clim"] == pytest.approx((es["phi_min_V"], es["phi_max_V"]), abs=1e-12)
        shot = tmp_path / "map.png"
        plotter.screenshot(str(shot))
        img = _rgb(shot)
        lo, hi = info["clim"]
        lut = matplotlib.colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255
        for x, z in [(20.0, 31.6), (20.0, 30.5), (24.0, 29.5), (20.0, 5.0), (25.0, 16.0)]:
            value = sample_points(run, [(x, z)], fields=["phi"])["phi_V"][0]
            r, c = _pixel_of(plotter, (x, z, 0.0), img.shape[0])
            got = img[r, c]
            # the pixel is a colour of the map (no shading), and the one of the value there (to
            # about a pixel's worth of the steep gradient in the gap)
            dist = np.abs(lut - got).max(axis=1)
            assert dist.min() <= 3, (x, z, got)
            t_pixel = np.argmin(dist) / 255
            assert t_pixel == pytest.approx((value - lo) / (hi - lo), abs=0.03), (x, z, value)
        # top (1 V) is the bright end, the grounded substrate the dark end of the map
        top = img[_pixel_of(plotter, (20.0, 31.8, 0.0), img.shape[0])]
        bottom = img[_pixel_of(plotter, (20.0, 2.0, 0.0), img.shape[0])]
        assert top.sum() > 450 and bottom.sum() < 200
    finally:
        plotter.close()


def test_plot_run_writes_profiles_and_map(runs, tmp_path):
    paths = plot_run(runs["2d"], field="phi", out=tmp_path / "a.svg")
    assert [p.name for p in paths] == ["a.svg", "a_phi_map.svg"]  # the suffix of --out
    png = plot_run(runs["2d"], field="phi", out=tmp_path / "a.png")[1]
    assert _rgb(png).std() > 10  # not a blank picture
    # without a field: the headline figure, the key profiles, one map per headline field
    paths = plot_run(runs["2d"])
    assert [p.name for p in paths] == ["headline.png", "profiles.png", "phi_map.png",
                                       "Ez_map.png"]
    with pytest.raises(PlotError, match="maps are for 2D and 3D runs"):
        plot_map(runs["1d"], tmp_path / "m.png")


def test_3d_map_slices(runs, tmp_path):
    run = load_run(runs["3d"])
    plotter, info = render_map(run, "phi")
    try:
        phi = run.fields().point_data["phi_V"]
        assert info["clim"] == pytest.approx((phi.min(), phi.max()))
        img = plotter.screenshot(return_img=True)
    finally:
        plotter.close()
    # the two slices are drawn: many bright pixels (the colour map's top, near the top contact)
    assert (np.asarray(img)[:, :, :3].astype(int).sum(axis=2) > 450).sum() > 500
    assert plot_map(run, tmp_path / "m3.png").stat().st_size > 10_000


# -- transients ------------------------------------------------------------------------------------
def test_transient_times_and_profiles_at_a_time(runs, tmp_path):
    run = load_run(runs["transient"])
    assert run.times == pytest.approx([0.0, 0.1, 1.0, 10.0])
    assert run.timeseries["t_s"][-1] == pytest.approx(10.0)
    early, final = run.profile(0.1), run.profile()
    assert np.allclose(early["z_nm"], final["z_nm"])
    # vacancies move from the film into the template: the film empties over time
    film = final["layer"] == "film"
    assert np.mean(early["delta"][film]) > np.mean(final["delta"][film])
    # the last output time is profiles.csv itself
    assert run.profile(10.0) is run.profiles
    paths = plot_run(run, field="delta", time=1.0)
    assert [p.name for p in paths] == ["profiles_t1s.png"]
    with pytest.raises(PlotError, match=r"no output at t = 5 s .*0, 0\.1, 1, 10"):
        run.fields(5.0)


def test_animation_has_a_frame_per_output_time(runs, tmp_path):
    from PIL import Image

    run = load_run(runs["transient"])
    gif = animate_run(run, "delta", tmp_path / "a.gif")
    with Image.open(gif) as im:
        assert im.n_frames == len(run.times) == 4
        frames = []
        for k in range(im.n_frames):
            im.seek(k)
            frames.append(np.asarray(im.convert("RGB")).astype(int))
    assert all(np.abs(frames[k] - frames[k + 1]).sum() > 0 for k in range(3))  # it moves
    with pytest.raises(PlotError, match="needs a transient"):
        animate_run(runs["1d"])
    with pytest.raises(PlotError, match=".gif or .mp4"):
        animate_run(run, out=tmp_path / "a.avi")


def test_restarted_run_joins_its_field_files(runs, tmp_path):
    """A run killed before it closed fields.pvd and restarted at t = 0.5 s: the orphaned
    fields00000N.pvtu up to 0.5 s (the outputs at 0 and the output times, in order) and the
    restart's fields_restart_0.5s.pvd make one time line."""
    d = tmp_path / "restarted"
    shutil.copytree(runs["transient"], d)
    (d / "fields.pvd").unlink()
    (d / "fields_restart_0.5s.pvd").write_text(
        '<?xml version="1.0"?>\n<VTKFile type="Collection" version="1.0">\n  <Collection>\n'
        '    <DataSet timestep="1" part="0" file="fields000002.pvtu" />\n'
        '    <DataSet timestep="10" part="0" file="fields000003.pvtu" />\n  </Collection>\n'
        '</VTKFile>\n')
    run = load_run(d)
    assert run.times == pytest.approx([0.0, 0.1, 1.0, 10.0])
    assert [f.name for _, f in run._datasets][-1] == "fields000003.pvtu"
    ref = load_run(runs["transient"])
    assert np.array_equal(run.fields(0.1)["delta"], ref.fields(0.1)["delta"])  # point data (#24)


def test_mp4_animation(runs, tmp_path):
    import imageio_ffmpeg  # a dependency (pyproject): no silent skip

    mp4 = animate_run(runs["transient"], "c_V", tmp_path / "a.mp4", fps=4)
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(mp4))
    assert frames == 4


# -- sweeps ----------------------------------------------------------------------------------------
def test_sweep_detects_the_parameter(sweep):
    s = load_sweep(sweep)
    assert s.parameter == "layers.1.thickness_nm"
    assert list(s.x) == [2.0, 3.5, 5.0]
    assert [r.path.name for r in s.runs] == ["t_2nm", "t_3.5nm", "t_5nm"]
    assert s.parameter_label == "layers.1.thickness_nm (film) [nm]"
    assert s.default_quantities() == ["energy_J_m2"]  # table.csv's columns
    x, y = s.values("electrostatic_energy_J_per_m2")  # a summary scalar by its unique ending
    assert list(x) == [2.0, 3.5, 5.0] and np.all(np.isfinite(y))
    _, from_table = s.values("energy_J_m2")
    assert np.allclose(from_table, y)
    with pytest.raises(PlotError, match="no summary scalar or table column 'nope'"):
        s.values("nope")
    with pytest.raises(PlotError, match="does not vary"):
        load_sweep(sweep, parameter="run.temperature_K")


def test_sweep_plot_with_reference_points(sweep, tmp_path):
    s = load_sweep(sweep)
    x, y = s.values("electrostatics.potential_drop_V")
    ref = tmp_path / "ref.csv"
    ref.write_text("# field: electrostatics.potential_drop_V\n# label: reference\nx,y\n"
                   + "".join(f"{a},{b}\n" for a, b in zip(x, y * 1.05)))

    def red_pixels(path):
        img = _rgb(path)
        return int(((img[:, :, 0] > 180) & (img[:, :, 1] < 90) & (img[:, :, 2] < 90)).sum())

    plain = plot_sweep(s, ["potential_drop_V"], tmp_path / "plain.png")[0]
    with_ref = plot_sweep(s, ["potential_drop_V"], tmp_path / "ref.png", references=[ref])[0]
    assert red_pixels(plain) == 0 and red_pixels(with_ref) > 50
    assert plot_sweep(s, None, tmp_path / "s.pdf")[0].read_bytes()[:4] == b"%PDF"


def test_heterofem_sweep_directory(tmp_path):
    """``heterofem sweep`` output (cases named by their parameters, sweep.csv with param.*
    columns, a failed case): the first --param is the x axis, the other axis of the grid splits
    the runs into lines."""
    from heterofem.solver.sweep import run_sweep

    cfg = tmp_path / "c.toml"
    cfg.write_text(ONE_D)
    out = tmp_path / "sw"
    run_sweep(cfg, [("boundary.top.phi_V", [0.5, 1.0]),
                    ("layers.film.thickness_nm", [2.0, -1.0, 4.0])], out)
    s = load_sweep(out)
    assert s.parameter == "boundary.top.phi_V" and s.table is None
    assert s.failed == ["boundary.top.phi_V=0.5,layers.film.thickness_nm=-1",
                        "boundary.top.phi_V=1,layers.film.thickness_nm=-1"]  # no run directory
    groups = s.groups()
    assert [g for g, _ in groups] == ["layers.1.thickness_nm = 2", "layers.1.thickness_nm = 4"]
    x, drop = s.values("potential_drop_V")
    for _, idx in groups:
        assert np.allclose(drop[idx], x[idx])  # the drop is the top contact's potential
    by_layer = load_sweep(out, parameter="layers.film.thickness_nm")
    assert by_layer.parameter == "layers.1.thickness_nm" and list(by_layer.x) == [2, 2, 4, 4]
    path = plot_sweep(s, ["potential_drop_V"], tmp_path / "sw.png")[0]
    assert _rgb(path).std() > 10


# -- the examples -----------------------------------------------------------------------------
def _example(name):
    import importlib.util

    from conftest import REPO

    path = REPO / "postprocess" / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_examples_run(runs, tmp_path):
    paths = _example("plot_potential_map").main([str(runs["2d"]), "--layer", "film",
                                                 "--out", str(tmp_path / "m.png")])
    assert [p.name for p in paths] == ["m.png", "m_lateral.png"]
    assert _example("compare_profiles").main([str(runs["1d"]), str(runs["1d"]), "--tol", "0",
                                              "--out", str(tmp_path / "c.png")]) == 0
    paths = _example("vacancy_transfer_animation").main([str(runs["transient"]),
                                                         "--out", str(tmp_path / "v.gif")])
    assert [p.name for p in paths] == ["v.gif", "v_inventory.png"]


# -- broken directories ----------------------------------------------------------------------------
def _broken(kind, runs, tmp_path):
    d = tmp_path / kind
    if kind == "missing":
        return d, "does not exist"
    if kind == "empty":
        d.mkdir()
        return d, "not a heterofem run directory"
    if kind == "incomplete":
        d.mkdir()
        shutil.copy(runs["1d"] / "config.resolved.toml", d)
        (d / "run.log").write_text("started\n")
        return d, "incomplete: no summary.json"
    shutil.copytree(runs["2d"], d)
    if kind == "bad json":
        (d / "summary.json").write_text('{"name": "x", "conv')
        return d, "not valid JSON"
    if kind == "missing piece":
        for p in d.glob("fields_p0_*.vtu"):
            p.unlink()
        return d, "missing"
    if kind == "truncated profiles":
        text = (d / "profiles.csv").read_text().splitlines()
        (d / "profiles.csv").write_text("\n".join(text[:20] + [text[20][:15]]) + "\n")
        return d, "damaged"
    if kind == "not converged":
        summary = json.loads((d / "summary.json").read_text())
        summary.update(converged=False, error="Newton diverged")
        (d / "summary.json").write_text(json.dumps(summary))
        (d / "profiles.csv").unlink()
        return d, "did not converge: Newton diverged"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing", "empty", "incomplete", "bad json", "missing piece",
                                  "truncated profiles", "not converged"])
def test_broken_run_directory_is_a_clear_error(runs, tmp_path, kind):
    d, message = _broken(kind, runs, tmp_path)
    with pytest.raises(PlotError, match=message):
        plot_run(d)


def test_cli_plot(runs, sweep, tmp_path):
    ok = heterofem("plot", str(runs["2d"]), "--field", "phi", "--out", str(tmp_path / "p.png"))
    assert "wrote" in ok.stdout and (tmp_path / "p_phi_map.png").is_file()
    ok = heterofem("plot", str(sweep), "--out", str(tmp_path / "s.svg"))
    assert "layers.1.thickness_nm = 2, 3.5, 5" in ok.stdout and (tmp_path / "s.svg").is_file()
    ok = heterofem("plot", str(runs["transient"]), "--animate", "--out", str(tmp_path / "a.gif"))
    assert (tmp_path / "a.gif").is_file()
    for kind in ("incomplete", "missing piece"):
        d, message = _broken(kind, runs, tmp_path)
        bad = heterofem("plot", str(d), check=False)
        assert bad.returncode == 2, bad.stderr
        assert message in bad.stderr and "Traceback" not in bad.stderr + bad.stdout


# -- MPI -------------------------------------------------------------------------------------------
@pytest.mark.mpi
def test_two_rank_run_loads_like_a_serial_run(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(TWO_D)
    _run(TWO_D, tmp_path / "serial")
    heterofem("run", str(cfg), "--out", str(tmp_path / "mpi"), np=2)
    serial, parallel = load_run(tmp_path / "serial"), load_run(tmp_path / "mpi")
    assert parallel.summary["mpi_size"] == 2
    assert len(list((tmp_path / "mpi").glob("fields_p1_*.vtu"))) == 1  # two pieces were written
    a, b = serial.fields(), parallel.fields()
    # ghosts dropped, shared points joined
    assert (a.n_points, a.n_cells) == (b.n_points, b.n_cells)
    x = serial.lateral_centre_nm[0]
    la = sample_line(serial, (x, 0.0), (x, 32.0), n=300)
    lb = sample_line(parallel, (x, 0.0), (x, 32.0), n=300)
    assert np.max(np.abs(la["phi_V"] - lb["phi_V"])) < 1e-9
    assert list(la["layer"]) == list(lb["layer"])
    assert compare_runs([serial, parallel], "phi").max_rel_diff[parallel.path.name] < 1e-9
    # plotting under mpirun: rank 0 draws, once, and every rank exits cleanly
    proc = heterofem("plot", str(tmp_path / "mpi"), np=2)
    assert proc.stdout.count("wrote") == 4  # headline, profiles, phi and Ez maps
    assert (tmp_path / "mpi" / "phi_map.png").is_file()
