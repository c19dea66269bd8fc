"""Animations of a transient run's output times: GIF (Pillow) or MP4 (imageio-ffmpeg)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from heterofem.postprocess.drawing import (
    _label_layers,
    _log_scale,
    _pyplot,
    _shade_layers,
    layer_colours,
)
from heterofem.postprocess.files import PlotError, is_root
from heterofem.postprocess.maps import _default_map_field, draw_map_2d, render_map
from heterofem.postprocess.rundir import Run, load_run
from heterofem.postprocess.style import FIXED_LIMITS, colour_limits, field_label, is_signed

# -- animations ------------------------------------------------------------------------------------
ANIMATION_DEFAULTS = ("delta", "c_V", "theta_V", "mu", "phi")


def _profile_values(run: Run, profile: dict, column: str) -> np.ndarray:
    """A column of a profile as drawn: nothing above a deposit surface; in a growth run the
    template and substrate crystalline (xi = 1), as in the headline figure's profiles."""
    from heterofem.postprocess.headline import _crystal_layers, deposit_top

    z = np.asarray(profile["z_nm"], dtype=float)
    y = np.asarray(profile[column], dtype=float).copy()
    if run.field_info.get(column, {}).get("name") == "xi":
        y = np.where(_crystal_layers(run, profile), 1.0, y)
    top = deposit_top(run, profile)
    if top is not None:
        y[z > top + 1e-9] = np.nan
    return y


def _line_frames(run: Run, field: str, size=(8.0, 4.8), dpi=100) -> list[np.ndarray]:
    plt = _pyplot()
    profiles = [run.profile(t) for t in run.times]
    names = [c for c in profiles[-1] if c not in ("z_nm", "layer")]
    col = run.column(field, names)
    ys = [_profile_values(run, p, col) for p in profiles]
    meta = run.field_info.get(col, {})
    name = meta.get("name", col)
    every = np.concatenate(ys)
    log = _log_scale(every) and name not in FIXED_LIMITS
    label, factor = field_label(name, meta.get("unit", "1"), None if log else every)
    ys = [y * (1.0 if log else factor) for y in ys]
    every = np.concatenate(ys)
    lo, hi = np.nanmin(every), np.nanmax(every)
    if name in FIXED_LIMITS:  # a fraction: its whole range
        lo, hi = FIXED_LIMITS[name]
    if log:
        lims = (lo / 1.5, hi * 1.5)
    else:
        pad = 0.05 * (hi - lo) or abs(hi) * 0.05 or 1.0
        lims = (lo - pad, hi + pad)
    fig, ax = plt.subplots(figsize=size, dpi=dpi)
    _shade_layers(ax, run, layer_colours(run))
    _label_layers(ax, run)
    z = profiles[0]["z_nm"]
    ax.plot(z, ys[0], color="0.45", lw=1.0, ls=":", label=f"t = {run.times[0]:g} s", zorder=2)
    (line,) = ax.plot(z, ys[0], color="k", lw=1.6, zorder=3)
    ax.set_xlim(0, run.total_thickness_nm)
    if log:
        ax.set_yscale("log")
    ax.set_ylim(*lims)
    ax.set_xlabel("height z (nm)")
    ax.set_ylabel(label)
    ax.legend(loc="lower right", fontsize=8)
    text = ax.text(0.01, 0.97, "", transform=ax.transAxes, va="top", fontsize=10,
                   bbox=dict(fc="white", alpha=0.8, lw=0))
    fig.suptitle(run.name, fontsize=10)
    fig.tight_layout()
    frames = []
    for t, y in zip(run.times, ys):
        line.set_ydata(y)
        text.set_text(f"t = {t:g} s")
        fig.canvas.draw()
        frames.append(np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy())
    plt.close(fig)
    return frames


def _map_frames(run: Run, field: str, warp) -> list[np.ndarray]:
    """One map per output time with one colour range: a flat 2D map drawn like
    :func:`heterofem.postprocess.maps.draw_map_2d` (growth: blank above the deposit, crystals
    as crystals), a 3D or warped map rendered with PyVista."""
    grids = [run.fields(t) for t in run.times]
    names = grids[-1].array_names
    col = run.column(field, names)
    every = np.concatenate([np.asarray(g[col], dtype=float).ravel() for g in grids])
    name = run.field_info.get(col, {}).get("name", col)
    clim = colour_limits(every, is_signed(name, every))
    if name in FIXED_LIMITS:  # a fraction: its whole range (the film not yet deposited aside)
        clim = FIXED_LIMITS[name]
    elif _log_scale(every) and not is_signed(name, every):
        positive = every[every > 0]
        clim = (max(float(np.percentile(positive, 1)), float(positive.max()) * 1e-6),
                float(positive.max()))
    frames = []
    flat = run.dimension == 2 and warp in ("none", None)
    for t in run.times:
        text = f"{run.name}, t = {t:g} s"
        if flat:
            import io

            from PIL import Image

            buf = io.BytesIO()
            draw_map_2d(run, buf, col, time=t, clim=clim, title=text, dpi=150)
            frames.append(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))
            continue
        plotter, _ = render_map(run, col, time=t, warp=warp, clim=clim, window_size=(960, 672),
                                title=text)
        try:
            frames.append(np.asarray(plotter.screenshot(return_img=True))[:, :, :3].copy())
        finally:
            plotter.close()
    return frames


def _pad16(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    H, W = -(-h // 16) * 16, -(-w // 16) * 16
    if (H, W) == (h, w):
        return frame
    out = np.full((H, W, 3), 255, dtype=np.uint8)
    out[:h, :w] = frame
    return out


def write_animation(frames: Sequence[np.ndarray], out: Path, fps: float = 2.0) -> Path:
    """Frames (RGB uint8 arrays of one size) to a GIF (Pillow) or an MP4 (imageio-ffmpeg, H.264)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise PlotError(f"an animation is written as .gif or .mp4, not '{out.suffix or out.name}'")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(np.ascontiguousarray(f)).convert(
            "P", palette=Image.Palette.ADAPTIVE) for f in frames]
        images[0].save(out, save_all=True, append_images=images[1:], duration=int(1000 / fps),
                       loop=0, optimize=False, disposal=1)
        return out
    try:
        import imageio_ffmpeg
    except ImportError:
        raise PlotError("writing MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg); "
                        "or write a .gif") from None
    padded = [_pad16(np.ascontiguousarray(f, dtype=np.uint8)) for f in frames]
    h, w = padded[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(str(out), (w, h), fps=fps, codec="libx264",
                                         pix_fmt_in="rgb24", pix_fmt_out="yuv420p", quality=7,
                                         macro_block_size=16, output_params=["-loglevel", "error"])
    writer.send(None)
    for f in padded:
        writer.send(f.tobytes())
    writer.close()
    return out


def animate_run(run_dir: str | os.PathLike | Run, field: str | None = None,
                out: str | os.PathLike | None = None, fps: float = 2.0,
                warp: str | float = "none") -> Path | None:
    """One frame per output time of a transient (fields.pvd; more ``[time] output_times_s``
    give a smoother animation: the frames are the computed states, never interpolated): a 1D run as a line along z over the
    layers (the first frame dotted for reference), a 2D/3D run as a map with one colour range for
    all frames. ``field`` defaults to the first of delta, c_V, theta_V, mu, phi the run has.
    Written to ``out`` (.gif or .mp4; default RUN_DIR/<field>_animation.gif)."""
    if not is_root():
        return None
    run = load_run(run_dir)
    if len(run.times) < 2:
        raise PlotError(f"{run.path} has {len(run.times)} output time(s) in fields.pvd; an "
                        "animation needs a transient run with two or more ([time] output_times_s)")
    available = list(run.field_info)
    if field is None:
        field = next((f for f in ANIMATION_DEFAULTS if run.columns(f, available)), None) or \
            _default_map_field(run, [c for c in available if c != "layer_id"])
    run.column(field, available)  # a clear error for an unknown field
    out = Path(out) if out else run.path / f"{field}_animation.gif"
    if out.suffix.lower() not in (".gif", ".mp4"):
        raise PlotError(f"an animation is written as .gif or .mp4, not '{out.suffix or out.name}'")
    frames = _line_frames(run, field) if run.dimension == 1 else _map_frames(run, field, warp)
    return write_animation(frames, out, fps)
