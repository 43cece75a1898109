"""Benchmark: do 04's networks read the digits a learner would photograph or draw? A picture set built by code.

A learner's own digit is not a training digit. It is written with a thin
ballpoint or a fat marker, on grey paper, under a lamp that lights one side,
with a shadow across it, small in a big phone photo, off centre, a little
turned, JPEG-compressed, sometimes light chalk on a dark board, with specks
of dirt. This draws each digit 0-9 as pen strokes (a hand-made shape for each
digit, jittered: slant, width, wobble) in each of those KINDS of picture, runs
every picture through lesson 06's own preprocessing (exactly what
``06 --image`` does) and each checkpoint given, and prints the accuracy per
kind and per network, against the targets below. Nothing is downloaded: the
set is made from --seed, the same pictures on every machine.

    TARGETS   8x8 digits MLP >= 85%, MNIST MLP >= 95%, MNIST CNN >= 97% of the whole set

Not a test: it measures. Seed 0 is the set the preprocessing was tuned on (the validation set); the README
reports --seed 1, a set it never saw.

    python benchmarks/learner_digits.py models/04_mlp_digits.pt models/04_mlp_mnist.pt models/04_cnn_mnist.pt --seed 1
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from lessons import load_lesson  # also puts the repository root on sys.path
from PIL import Image, ImageDraw, ImageFilter
from rendered_digits import plot_readings

from common.checkpoints import load_checkpoint
from common.cli import run
from common.plotting import plt, save_figure

build_model = load_lesson("04_neural_network_training").build_model

TARGETS = {("digits", "mlp"): 0.85, ("mnist", "mlp"): 0.95, ("mnist", "cnn"): 0.97}
OVERSAMPLE = 3  # strokes are drawn 3x larger and shrunk, for smooth (anti-aliased) edges


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> list[tuple[float, float]]:
    """Points along an ellipse from angle ``start`` to ``end`` (degrees; 0 = right, 90 = down, as y grows down)."""
    angles = np.radians(np.linspace(start, end, 32))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in angles]


# Each digit as pen strokes in a unit box (x right, y down); some digits have two common ways to write them.
SHAPES = {
    0: [[arc(0.5, 0.5, 0.45, 0.5, -80, 285)]],
    1: [[[(0.25, 0.22), (0.55, 0.0), (0.55, 1.0)]], [[(0.5, 0.0), (0.5, 1.0)]]],
    2: [[arc(0.5, 0.3, 0.42, 0.3, 190, 380) + [(0.05, 1.0), (0.95, 1.0)]]],
    3: [[arc(0.5, 0.26, 0.38, 0.26, 200, 450) + arc(0.5, 0.76, 0.45, 0.24, 270, 520)]],
    4: [[[(0.72, 1.0), (0.72, 0.0), (0.05, 0.68), (0.95, 0.68)]],
        [[(0.15, 0.0), (0.08, 0.6), (0.92, 0.6)], [(0.7, 0.2), (0.7, 1.0)]]],
    5: [[[(0.85, 0.0), (0.2, 0.0), (0.17, 0.45)] + arc(0.48, 0.68, 0.42, 0.3, 235, 510)],
        [[(0.2, 0.0), (0.17, 0.45)] + arc(0.48, 0.68, 0.42, 0.3, 235, 510), [(0.2, 0.0), (0.85, 0.0)]]],
    6: [[[(0.75, 0.0), (0.4, 0.18), (0.15, 0.55)] + arc(0.5, 0.72, 0.36, 0.28, 180, 540)]],
    7: [[[(0.05, 0.0), (0.95, 0.0), (0.4, 1.0)]], [[(0.05, 0.0), (0.95, 0.0), (0.4, 1.0)], [(0.3, 0.5), (0.8, 0.5)]]],
    8: [[arc(0.5, 0.26, 0.32, 0.26, 90, 450), arc(0.5, 0.74, 0.4, 0.26, -90, 270)]],
    9: [[arc(0.48, 0.3, 0.36, 0.3, 0, 360), [(0.84, 0.3), (0.78, 1.0)]]],
}

# What each kind of picture changes; every other setting is the plain one.
PLAIN = dict(canvas=(200, 200), height=(120, 150), pen=(6, 10), turn=5, place="centre", paper=(0.9, 0.98),
             ink=(0.05, 0.25), light="even", specks=0, jpeg=None)  # paper and ink: the share of light they send back
KINDS = {
    "plain": {},
    "thin pen": dict(pen=(2, 3)),
    "thick pen": dict(pen=(18, 24)),
    "specks": dict(specks=6),
    "grey paper": dict(paper=(0.5, 0.7)),
    "light gradient": dict(light="gradient"),
    "shadow": dict(light="shadow"),
    "small in a photo": dict(canvas=(800, 600), height=(50, 80), pen=(4, 6), place="anywhere"),
    "off centre": dict(height=(70, 90), place="corner"),
    "turned": dict(turn=20),
    "JPEG": dict(jpeg=(15, 35)),
    "light on dark": dict(paper=(0.1, 0.25), ink=(0.8, 0.95)),
}


def strokes_in_pixels(digit: int, rng: np.random.Generator, height: float, turn: float) -> list[np.ndarray]:
    """One hand's version of a digit: its shape slanted, widened or narrowed, turned and wobbled, in pixels
    around (0, 0)."""
    shape = SHAPES[digit][rng.integers(len(SHAPES[digit]))]
    width, slant, angle = rng.uniform(0.5, 0.75), rng.uniform(-0.2, 0.25), np.radians(rng.uniform(-turn, turn))
    turned = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    out = []
    for stroke in shape:
        points = np.array(stroke) - 0.5  # centre the unit box on (0, 0)
        points = points + rng.normal(0, 0.015, size=points.shape).cumsum(axis=0) * 0.5  # a hand's wobble
        x, y = points[:, 0] * width - slant * points[:, 1], points[:, 1]
        out.append(height * (np.stack([x, y], axis=1) @ turned.T))
    return out


def lighting(kind: dict, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """How much light falls on each pixel: even, brighter on one side (a lamp), or half in a shadow."""
    width, height = size
    rows, cols = np.mgrid[0:height, 0:width] / max(size)
    direction = rng.uniform(0, 2 * np.pi)
    along = np.cos(direction) * cols + np.sin(direction) * rows  # position along a random direction
    along = (along - along.min()) / np.ptp(along)
    if kind["light"] == "gradient":
        return 1.0 - rng.uniform(0.4, 0.55) * along
    if kind["light"] == "shadow":
        return 1.0 - rng.uniform(0.35, 0.5) / (1 + np.exp(-(along - rng.uniform(0.3, 0.7)) * 40))  # a soft edge
    return np.ones((height, width))


def draw(digit: int, kind_name: str, rng: np.random.Generator) -> np.ndarray:
    """One picture of ``digit`` of the given kind, as a grayscale array in [0, 1]."""
    kind = PLAIN | KINDS[kind_name]
    width, height = kind["canvas"]
    digit_height = rng.uniform(*kind["height"])
    strokes = strokes_in_pixels(digit, rng, digit_height, kind["turn"])
    pen = rng.uniform(*kind["pen"])
    reach = np.abs(np.concatenate(strokes)).max(axis=0) + pen  # how far the ink goes from the digit's middle
    margin = reach + 4
    if kind["place"] == "centre":
        middle = np.array([width, height]) / 2 + rng.uniform(-10, 10, size=2)
    elif kind["place"] == "corner":
        corner = rng.integers(2, size=2)
        middle = np.where(corner, [width, height] - margin - rng.uniform(0, 8, 2), margin + rng.uniform(0, 8, 2))
    else:
        middle = rng.uniform(margin, np.array([width, height]) - margin)
    middle = np.clip(middle, margin, np.array([width, height]) - margin)  # the whole digit in the picture
    ink_mask = Image.new("L", (width * OVERSAMPLE, height * OVERSAMPLE), 0)
    pencil = ImageDraw.Draw(ink_mask)
    for stroke in strokes:
        points = [tuple(OVERSAMPLE * (middle + point)) for point in stroke]
        pencil.line(points, fill=255, width=round(OVERSAMPLE * pen), joint="curve")
        for x, y in (points[0], points[-1]):  # round ends, as a pen leaves
            r = OVERSAMPLE * pen / 2
            pencil.ellipse((x - r, y - r, x + r, y + r), fill=255)
    for _ in range(kind["specks"]):  # dirt, anywhere but on the digit
        r = OVERSAMPLE * rng.uniform(1.5, 4)
        while True:
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            if np.any(np.abs(np.array([x, y]) - middle) > reach + 8):
                break
        pencil.ellipse((OVERSAMPLE * x - r, OVERSAMPLE * y - r, OVERSAMPLE * x + r, OVERSAMPLE * y + r), fill=255)
    coverage = np.asarray(ink_mask.resize((width, height), Image.Resampling.BOX), dtype=np.float64) / 255
    paper, ink = rng.uniform(*kind["paper"]), rng.uniform(*kind["ink"])
    picture = lighting(kind, rng, (width, height)) * (paper * (1 - coverage) + ink * coverage)
    picture = np.clip(picture + rng.normal(0, 0.015, picture.shape), 0, 1)  # a camera's noise
    if kind["jpeg"]:
        buffer = io.BytesIO()
        Image.fromarray(np.uint8(255 * picture)).save(buffer, "JPEG", quality=int(rng.integers(*kind["jpeg"])))
        picture = np.asarray(Image.open(buffer), dtype=np.float64) / 255
    if kind_name == "shadow":  # a shadow's edge is soft in a photo too
        picture = np.asarray(Image.fromarray(np.uint8(255 * picture)).filter(ImageFilter.GaussianBlur(0.7))) / 255
    return picture.astype(np.float32)


def learner_set(seed: int, per_digit: int = 3) -> tuple[list[str], np.ndarray, list[np.ndarray]]:
    """Every kind x digit x ``per_digit`` pictures: each one's kind, label and picture, the same for a seed."""
    kinds, labels, pictures = [], [], []
    for k, kind in enumerate(KINDS):
        for digit in range(10):
            for copy in range(per_digit):
                pictures.append(draw(digit, kind, np.random.default_rng([seed, k, digit, copy])))
                kinds.append(kind)
                labels.append(digit)
    return kinds, np.array(labels), pictures


EXAMPLES = [(7, "thin pen", "thin_pen_7.png"), (2, "specks", "specks_2.jpg"), (4, "light gradient", "lamp_4.png"),
            (5, "shadow", "shadow_5.png"), (3, "small in a photo", "photo_3.jpg"), (8, "light on dark", "chalk_8.png")]


def write_examples(folder: Path) -> list[Path]:
    """A few pictures of the set as image files, for ``06 --image`` (the README's picture is made from them)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for digit, kind, name in EXAMPLES:
        picture = draw(digit, kind, np.random.default_rng(digit))
        Image.fromarray(np.uint8(np.round(255 * picture))).save(folder / name)
        paths.append(folder / name)
    return paths


def plot_examples(kinds: list[str], labels: np.ndarray, pictures: list[np.ndarray],
                  seen: dict[str, list[np.ndarray]], predicted: dict[str, np.ndarray]) -> plt.Figure:
    """One picture of every kind (of another digit each time), and what each network sees of it and answers."""
    per_digit = kinds.count(kinds[0]) // 10
    chosen = [kinds.index(kind) + (k % 10) * per_digit for k, kind in enumerate(KINDS)]
    return plot_readings(chosen, list(KINDS), labels, pictures, seen, predicted, "A learner's kinds of picture (top)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="checkpoints written by 04 (MLP or CNN, digits or MNIST)")
    parser.add_argument("--seed", type=int, default=1, help="which set to draw (0 is the one tuned on)")
    parser.add_argument("--per-digit", type=int, default=3, help="pictures of each digit in each kind")
    args = parser.parse_args()
    lesson06 = load_lesson("06_neural_network_inference")
    kinds, labels, pictures = learner_set(args.seed, args.per_digit)
    print(f"{len(pictures)} pictures (seed {args.seed}): {len(KINDS)} kinds x 10 digits x {args.per_digit}")
    rows, seen, predicted = {}, {}, {}
    for path in args.checkpoints:
        checkpoint = load_checkpoint(path)
        name = f"{checkpoint['dataset']} {checkpoint['architecture']['kind']}"
        readings, probabilities = lesson06.read_pictures(build_model(checkpoint), checkpoint, pictures)
        seen[name], predicted[name] = [r.seen for r in readings], probabilities.argmax(1)
        correct = predicted[name] == labels
        rows[name] = {kind: correct[np.array(kinds) == kind].mean() for kind in KINDS} | {"all": correct.mean()}
        target = TARGETS.get((checkpoint["dataset"], checkpoint["architecture"]["kind"]))
        verdict = f"target >= {target:.0%}: {'met' if correct.mean() >= target else 'MISSED'}" if target else ""
        print(f"{name} ({path}): {correct.mean():.1%} read right ({correct.sum()}/{len(labels)})   {verdict}")
    print("\n| kind of picture | " + " | ".join(rows) + " |\n|---|" + "---:|" * len(rows))
    for kind in [*KINDS, "all"]:
        print(f"| {kind} | " + " | ".join(f"{row[kind]:.0%}" for row in rows.values()) + " |")
    save_figure(plot_examples(kinds, labels, pictures, seen, predicted), "bench_learner_digits")


if __name__ == "__main__":
    run(main)
