"""Figures that work the same on a laptop and on a headless CI machine. Plumbing: no lesson teaches it,
except the decision-boundary picture, which lesson 02 explains.

Every figure is saved as a PNG under ``figures/``. A window opens only when a
display exists and the user did not pass ``--no-show``; without a display
matplotlib is switched to the non-interactive Agg backend before pyplot is
imported, so nothing can block or fail for want of a screen.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

import matplotlib
import numpy as np

from common import FIGURES_DIR
from common.records import atomic_write, check_writable


def display_available() -> bool:
    """True when a window could be shown (a desktop session, not CI or plain SSH)."""
    if os.environ.get("CI"):
        return False
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


if not display_available():
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3, "font.size": 10})


def interactive(no_show: bool) -> bool:
    """Should figures be shown in windows?"""
    return not no_show and display_available()


def check_figure_writable(name: str) -> None:
    """Before any long work: fail now, in one line, if figures/<name>.png could not be saved later."""
    check_writable(FIGURES_DIR / f"{name}.png")


def save_figure(fig: plt.Figure, name: str) -> Path:
    """Save ``fig`` as ``figures/<name>.png``, print where, and return the path."""
    path = FIGURES_DIR / f"{name}.png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    print(f"  figure saved: {path.relative_to(FIGURES_DIR.parent)}")
    return path


def show_or_close(no_show: bool) -> None:
    """Open the windows (blocking until they are closed) or just release the figures."""
    if interactive(no_show):
        plt.show()
    plt.close("all")


def plot_decision_boundary(
    ax: plt.Axes,
    predict_proba: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    title: str,
    margin: float = 0.5,
    resolution: int = 200,
) -> None:
    """Shade the plane by predicted class-1 probability and draw the points on top.

    ``predict_proba`` maps an (n, 2) array of points to n probabilities of class 1.
    """
    x0, x1 = X[:, 0].min() - margin, X[:, 0].max() + margin
    y0, y1 = X[:, 1].min() - margin, X[:, 1].max() + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.c_[gx.ravel(), gy.ravel()]
    p = np.asarray(predict_proba(grid)).reshape(gx.shape)
    flat = p.max() - p.min() < 1e-3  # one value everywhere: no boundary, only rounding noise to draw
    if flat:
        p = np.full_like(p, p.mean())
    ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6, vmin=0, vmax=1)
    if not flat:
        ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.5)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", edgecolors="k", s=30 if len(X) > 10 else 120, vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.grid(False)


def plot_confusion_matrix(matrix: np.ndarray, class_names: tuple[str, ...], title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center", fontsize=8,
                color="white" if value > matrix.max() / 2 else "black")
    ax.set(xticks=range(len(class_names)), yticks=range(len(class_names)), xticklabels=class_names,
           yticklabels=class_names, xlabel="predicted class", ylabel="true class", title=title)
    ax.grid(False)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig
