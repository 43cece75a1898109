"""Benchmark: do the networks of lesson 04 read printed digits? Digits rendered from fonts, MLP vs CNN.

MNIST is handwriting, centred and scaled one way. A digit on a sign, a page or
a screen is not: other shapes (serifs, bold strokes, a 1 with a foot), other
slants, anywhere in the picture, dark on light or light on dark. This renders
each digit 0-9 in every combination of

    FONTS      matplotlib's bundled TrueType fonts (the same on every machine)
    SIZES      the digit's font size on a 160 x 160 picture
    SLANTS     a horizontal shear, as in italic or hurried writing
    POSITIONS  where the digit sits in the picture
    POLARITIES dark ink on light paper, or light on dark

and runs every picture through lesson 06's own preprocessing (exactly what
``06 --image`` does) and each checkpoint given. It prints the accuracy overall
and per variation, and saves a sheet of examples as the networks see them.
Not a test: it measures.

    python benchmarks/rendered_digits.py models/04_mlp_mnist.pt models/04_cnn_mnist.pt
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import matplotlib
import numpy as np
from lessons import load_lesson  # also puts the repository root on sys.path
from PIL import Image, ImageDraw, ImageFont

from common.checkpoints import load_checkpoint
from common.cli import run
from common.plotting import plt, save_figure

build_model = load_lesson("04_neural_network_training").build_model

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONTS = ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSerif", "DejaVuSerif-Italic", "DejaVuSansMono", "STIXGeneral",
         "STIXGeneralBol", "cmr10", "cmss10", "cmtt10")
SIZES = (48, 80, 120)  # font size in pixels; the picture is 160 x 160
SLANTS = (-0.2, 0.0, 0.3)  # x += slant * (distance above the centre)
POSITIONS = {"centre": (0, 0), "top left": (-20, -20), "bottom right": (20, 15)}  # offset of the digit's middle
POLARITIES = {"dark on light": (0.9, 0.1), "light on dark": (0.1, 0.9)}  # (paper, ink)
CANVAS = 160


def render(digit: int, font: str, size: int, slant: float, position: str, polarity: str) -> np.ndarray:
    """One printed digit as a grayscale picture in [0, 1], like a photo of a page."""
    paper, ink = POLARITIES[polarity]
    image = Image.new("L", (CANVAS, CANVAS), round(255 * paper))
    dx, dy = POSITIONS[position]
    ImageDraw.Draw(image).text((CANVAS / 2 + dx, CANVAS / 2 + dy), str(digit), fill=round(255 * ink),
                               font=ImageFont.truetype(str(FONT_DIR / f"{font}.ttf"), size), anchor="mm")
    # Shear about the middle row: a pixel at output (x, y) comes from input (x + slant (y - c), y).
    c = CANVAS / 2
    image = image.transform(image.size, Image.Transform.AFFINE, (1, slant, -slant * c, 0, 1, 0),
                            resample=Image.Resampling.BILINEAR, fillcolor=round(255 * paper))
    picture = np.asarray(image, dtype=np.float32) / 255.0
    border = np.concatenate([picture[0], picture[-1], picture[:, 0], picture[:, -1]])
    if np.abs(border - paper).max() > 0.05:  # a digit cut by the edge would not be a fair question
        raise ValueError(f"{digit} in {font} at size {size}, slant {slant}, {position} does not fit the picture")
    return picture


def rendered_set() -> tuple[list[dict], np.ndarray, list[np.ndarray]]:
    """Every combination: its description, its label and its picture (rendered once, read by every network)."""
    cases = [dict(digit=d, font=f, size=s, slant=sl, position=p, polarity=q) for d, f, s, sl, p, q in
             itertools.product(range(10), FONTS, SIZES, SLANTS, POSITIONS, POLARITIES)]
    return cases, np.array([case["digit"] for case in cases]), [render(**case) for case in cases]


def predict(checkpoint_path: Path, pictures: list[np.ndarray], lesson06) -> tuple[np.ndarray, np.ndarray]:
    """The checkpoint's network's answer for each picture, and what it sees: exactly as ``06 --image`` reads."""
    checkpoint = load_checkpoint(checkpoint_path)
    readings, probabilities = lesson06.read_pictures(build_model(checkpoint), checkpoint, pictures)
    seen = np.stack([reading.seen for reading in readings])
    return probabilities.argmax(1), seen


def breakdown(correct: np.ndarray, cases: list[dict], key: str) -> dict:
    """Accuracy for each value of one variation (font, size, ...)."""
    values = dict.fromkeys(case[key] for case in cases)
    return {value: float(np.mean([ok for ok, case in zip(correct, cases) if case[key] == value]))
            for value in values}


def plot_readings(chosen: list[int], titles: list[str], labels: np.ndarray, pictures: list[np.ndarray],
                  seen: dict[str, np.ndarray], predicted: dict[str, np.ndarray], title: str) -> plt.Figure:
    """The chosen pictures (top row, each with its title), and each as every network sees it and reads it."""
    fig, axes = plt.subplots(1 + len(seen), len(chosen), figsize=(1.3 * len(chosen), 1.55 * (1 + len(seen))))
    for column, i in enumerate(chosen):
        axes[0, column].imshow(pictures[i], cmap="gray", vmin=0, vmax=1)
        axes[0, column].set_title(titles[column], fontsize=6.5)
        for row, name in enumerate(seen, start=1):
            axes[row, column].imshow(seen[name][i], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            answer = predicted[name][i]
            right = answer == labels[i]
            axes[row, column].set_title(f"{name}: {answer}", fontsize=6.5, color="green" if right else "red")
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(f"{title} and each network's view of it and answer: green = right, red = wrong", fontsize=9)
    fig.tight_layout()
    return fig


def plot_examples(cases: list[dict], labels: np.ndarray, pictures: list[np.ndarray], seen: dict[str, np.ndarray],
                  predicted: dict[str, np.ndarray]) -> plt.Figure:
    """Rendered pictures, and each as every network sees it; mostly ones some network got wrong."""
    rng = np.random.default_rng(0)
    missed = np.flatnonzero(np.any([p != labels for p in predicted.values()], axis=0))
    chosen = np.concatenate([rng.choice(missed, size=min(8, len(missed)), replace=False),
                             rng.choice(len(cases), size=12 - min(8, len(missed)), replace=False)])
    titles = [f"{cases[i]['font']}\n{cases[i]['position']}" for i in chosen]
    return plot_readings(list(chosen), titles, labels, pictures, seen, predicted,
                         "Rendered digits (top; mostly ones some network misread)")


def report(predicted: dict[str, np.ndarray], cases: list[dict], labels: np.ndarray) -> None:
    """Accuracy of each network, overall and per variation, and how their mistakes overlap."""
    for name, answers in predicted.items():
        correct = answers == labels
        print(f"\n{name}: {correct.mean():.1%} read right ({correct.sum()}/{len(cases)})")
        for key in ("font", "size", "slant", "position", "polarity", "digit"):
            print(f"   by {key}: " + ", ".join(f"{value} {accuracy:.0%}"
                                            for value, accuracy in breakdown(correct, cases, key).items()))
    for first, second in itertools.permutations(predicted, 2):
        missed = predicted[first] != labels
        print(f"of the {missed.sum()} pictures {first} misread, {second} read "
              f"{(predicted[second][missed] == labels[missed]).sum()} right")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", type=Path, nargs="+", help="checkpoints written by 04 (MLP or CNN)")
    args = parser.parse_args()
    lesson06 = load_lesson("06_neural_network_inference")
    cases, labels, pictures = rendered_set()
    print(f"{len(cases)} rendered digits: {len(FONTS)} fonts x {len(SIZES)} sizes x {len(SLANTS)} slants x "
          f"{len(POSITIONS)} positions x {len(POLARITIES)} polarities x 10 digits")
    seen, predicted = {}, {}
    for path in args.checkpoints:
        predicted[path.stem], seen[path.stem] = predict(path, pictures, lesson06)
    report(predicted, cases, labels)
    save_figure(plot_examples(cases, labels, pictures, seen, predicted), "bench_rendered_digits")


if __name__ == "__main__":
    run(main)
