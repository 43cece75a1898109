"""Lesson 06 - use the trained network: load the checkpoint from 04 and predict on new data.

Training is done once; inference - a forward pass with the weights frozen -
is what a model is for. Three things must match what the network saw in
training, or its answers mean nothing:

1. The architecture: rebuilt from the checkpoint's description, then the
   saved weights are loaded into it. ``torch.load(..., weights_only=True)``
   reads tensors and plain values only, so a checkpoint from someone else
   cannot run their code.
2. The standardisation, x' = (x - mean) / std, with 04's training mean and std.
3. The look of the input. A network knows only its training pictures. Shown
   another kind - a "domain shift": a thin pen, grey paper, a shadow - it
   cannot tell that its rules no longer hold, and answers as sure as ever,
   often wrongly. Two things help: making the picture look like the training
   data (``preprocess``: find the ink on any paper, drop specks, redraw the
   strokes with the training data's pen, size and centre them as the training
   digits were made), and training on more kinds of picture (04's random
   shifts and turns). Where a picture stays unlike the training data (almost
   no ink, ink at the edge, a far thinner or thicker pen, a second blob), 06
   says so beside its answer.

The output is a probability for each class, softmax(logits); the prediction
is the most probable class, and the probability says how sure the network is
(a network is often confidently wrong on inputs unlike its training data).

With --draw you write the input yourself, and after each stroke the bars show
what the network makes of it. Try a digit small, in a corner, slanted or thick.

Run it:  python 06_neural_network_inference.py                    (newest checkpoint in models/)
         python 06_neural_network_inference.py --image my_digit.png
         python 06_neural_network_inference.py --draw --checkpoint models/04_cnn_mnist.pt   (needs a display)
"""

from __future__ import annotations

import functools
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.widgets import Button
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from common import UserError
from common.cli import add_mnist_arguments, lesson_parser, positive_int, run, seed_everything
from common.checkpoints import load_checkpoint, newest_checkpoint
from common.data import load_dataset, load_digits_dataset
from common.lessons import lesson
from common.plotting import check_figure_writable, interactive, plt, save_figure, show_or_close

_04 = lesson("04_neural_network_training")  # the networks it saved, rebuilt from their checkpoints
build_model, predict_proba = _04.build_model, _04.predict_proba

TRAIN_COMMAND = "python 04_neural_network_training.py"
# MNIST's pen: strokes 2.2 pixels wide in its 20-pixel box (the median over 20,000 training digits of
# stroke_width, below, at ink > 0.5; a tenth of them measure under 2.0 and a tenth over 2.9, whatever the digit).
MNIST_STROKE = 2.2 / 20
# A pen this many times thinner, or thicker, than the training data's gets a warning (a stroke cannot be
# much more than half as wide as the digit is tall, so "thicker" is reached far sooner).
THINNER, THICKER = 5, 1.5
FILE_ONLY_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}  # matplotlib's, without windows


# ----------------------------------------------------------------------------- preprocessing: like the training data


def read_grayscale(path: Path) -> np.ndarray:
    """Any image file as a 2-D float array in [0, 1]; transparency is laid over white paper."""
    if not path.is_file():
        raise UserError(f"{path}: no such image file")
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("RGBA", "LA", "P"):
                image = image.convert("RGBA")
                paper = Image.new("RGBA", image.size, "white")
                image = Image.alpha_composite(paper, image)
            return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except Image.DecompressionBombError:  # Pillow's guard against a small file that unpacks to gigabytes
        raise UserError(f"{path}: too many pixels to read safely (more than {Image.MAX_IMAGE_PIXELS:,})") from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read it as an image ({error})") from None


def find_ink(gray: np.ndarray) -> np.ndarray:
    """The ink, bright on 0, whatever the paper: white, grey, lit from one side or half in a shadow.

    Which way round: the picture's border is paper (a digit seldom touches it), so the ink is what lies
    beyond the border's range of brightness, below it (a pen on paper) or above it (chalk on a board).
    Where the paper is: slide a square wider than any stroke over the picture and keep, at each pixel,
    the brightest value under it, then slide it again keeping the darkest (a "grey closing"): dark lines narrower
    than the square vanish, and the paper stays, a shadow's edge and a lamp's gradient included.
    The ink is 1 - picture / paper, the share of the light falling there that it swallowed: in a
    shadow both are darker, by the same factor. It is scaled so that its strongest strokes are 1.
    """
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    low, high = np.percentile(border, [2, 98])  # the border's darkest and brightest, but for 2% at each end
    smooth = ndimage.median_filter(gray, size=3)  # each pixel the middle value of its 3x3: one noisy pixel is not ink
    if smooth.max() - high > low - smooth.min():  # light ink on dark paper: turn it round
        gray, smooth = 1.0 - gray, 1.0 - smooth
    square = max(3, round(0.25 * min(gray.shape)))  # a digit's strokes are far narrower than a quarter of it
    paper = np.maximum(ndimage.grey_closing(smooth, size=square), 0.05)  # never divide by 0 (black paper shows no ink)
    strongest = float(np.max(1.0 - smooth / paper))
    if strongest < 0.1:
        raise UserError("the image looks blank: no digit stands out from the background")
    return np.clip((1.0 - gray / paper) / strongest, 0.0, 1.0)


def keep_the_digit(ink: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The digit's strokes, as a mask: the largest group of touching ink pixels and any other large group
    close to it (a 5's bar, a 4's second stroke). Specks and blobs far away are dropped.

    Returns the mask, how many specks (groups under a tenth of the largest) and how many large blobs far
    from the digit were dropped.
    """
    mask = ink > 0.5  # True where there is ink
    bridge = max(1, round(0.01 * max(ink.shape)))  # join a stroke broken by a thin pen or by JPEG
    # Grow the ink by `bridge` pixels, then number each group of touching pixels (diagonal neighbours touch).
    groups, count = ndimage.label(ndimage.binary_dilation(mask, iterations=bridge), structure=np.ones((3, 3)))
    sizes = ndimage.sum(mask, groups, index=np.arange(1, count + 1))
    boxes = ndimage.find_objects(groups)
    digit = boxes[int(sizes.argmax())]
    reach = 0.5 * (digit[0].stop - digit[0].start)  # half the digit's height around its box counts as close

    def close(box: tuple[slice, slice]) -> bool:
        return all(part.start < whole.stop + reach and part.stop > whole.start - reach
                   for part, whole in zip(box, digit))

    large = sizes >= 0.1 * sizes.max()
    near = np.array([close(box) for box in boxes])
    kept = np.isin(groups, np.flatnonzero(large & near) + 1) & mask
    return kept, int((~large).sum()), int((large & ~near).sum())


def stroke_width(mask: np.ndarray) -> float:
    """How wide the pen was, in pixels: the ink's area over its length, the length being half the outline
    (a stroke has two sides). Right from 2 pixels up: a line 1 pixel wide is all outline and measures 2."""
    outline = mask & ~ndimage.binary_erosion(mask, structure=np.ones((3, 3)))  # ink pixels that touch paper
    return 2.0 * mask.sum() / max(int(outline.sum()), 1)


def distance_to_edge(mask: np.ndarray) -> np.ndarray:
    """How far each pixel is from the strokes' edge: positive outside the ink, negative inside it (the
    straight-line distance to the nearest pixel of the other kind). A pen about ``d`` pixels wider on each
    side draws the pixels with distance <= d; thinner, d < 0."""
    return ndimage.distance_transform_edt(~mask) - ndimage.distance_transform_edt(mask)


def crop_to_ink(ink: np.ndarray, threshold: float = 0.2) -> np.ndarray:
    rows, cols = np.nonzero(ink > threshold)
    return ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resample with Pillow's area-averaging filter: each new pixel is the mean of the pixels it covers."""
    scaled = Image.fromarray(image.astype(np.float32), mode="F").resize((width, height), Image.Resampling.BOX)
    return np.asarray(scaled)


def fit_in_box(digit: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale, keeping the aspect ratio, to the largest size that fits a height x width box."""
    h, w = digit.shape
    scale = min(height / h, width / w)
    return resize(digit, max(1, round(h * scale)), max(1, round(w * scale)))


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    total = image.sum()
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def place(digit: np.ndarray, size: int, by_mass: bool) -> np.ndarray:
    """Put the digit on a size x size black canvas, centred by centre of mass or by its box."""
    canvas = np.zeros((size, size), dtype=np.float32)
    h, w = digit.shape
    if by_mass:
        com_r, com_c = centre_of_mass(digit)
        top, left = round((size - 1) / 2 - com_r), round((size - 1) / 2 - com_c)
    else:
        top, left = (size - h) // 2, (size - w) // 2
    top, left = int(np.clip(top, 0, size - h)), int(np.clip(left, 0, size - w))
    canvas[top:top + h, left:left + w] = digit
    return canvas


@functools.cache
def digits_ink_box() -> tuple[int, int]:
    """Height and width of the 8x8 digits' ink, measured on their training split (90th percentiles).

    Their ink spans all 8 rows but only 5 or 6 of the 8 columns, centred: column 0 is inked in
    fewer than 1 in 500 training images. A drawing stretched across all 8 columns would look
    like nothing the network was trained on.
    """
    images = load_digits_dataset(0).X_train.reshape(-1, 8, 8)
    ink = images > 0.2 * images.max(axis=(1, 2), keepdims=True)
    heights, widths = ink.any(axis=2).sum(axis=1), ink.any(axis=1).sum(axis=1)
    return int(np.percentile(heights, 90)), int(np.percentile(widths, 90))


@functools.cache
def digits_ink_amount() -> float:
    """How much ink an 8x8 training digit holds (the median of its 64 values summed, in our 0-1 scale).

    About 19.5 for every digit, a 1 as much as an 8: the digits were normalised that way (a 1's
    strokes are wider), so the amount of ink says how wide the pen was, whatever the digit.
    """
    return float(np.median(load_digits_dataset(0).X_train.sum(axis=1)))


def training_layout(strokes: np.ndarray, dataset: str) -> np.ndarray:
    """Strokes (a mask) -> the size, place and values of the training data's pictures."""
    digit = crop_to_ink(strokes.astype(np.float32))
    if dataset == "mnist":  # 20x20 box, centre of mass at the centre of 28x28
        return place(fit_in_box(digit, 20, 20), 28, by_mass=True)
    # scikit-learn digits: the box their ink fills, measured on the training split (its 0-16 values are our 0-1)
    return np.clip(place(fit_in_box(digit, *digits_ink_box()), 8, by_mass=False), 0.0, 1.0)


def match_stroke_width(strokes: np.ndarray, dataset: str) -> tuple[np.ndarray, float]:
    """Redraw the strokes with the training data's pen, so that a thin pen keeps its ink when shrunk.

    Try pens from a quarter to 16 times the one used, and pick the one most like the training data's:
    for MNIST, strokes MNIST_STROKE of the digit's longer side wide; for the 8x8 digits, whose every
    digit holds about the same amount of ink (digits_ink_amount), the pen that gives its 8x8 that much.
    A thinner pen is never used: thinning erases the thin parts of a stroke (a bold font's hairlines).
    Returns the strokes and how many times wider the training data's pen is than the one used.
    """
    strokes = crop_to_ink(strokes)
    now = stroke_width(strokes)
    pens = now * 2.0 ** np.arange(-2, 4.01, 0.25)
    distance = distance_to_edge(np.pad(strokes, int(np.ceil((pens[-1] - now) / 2)) + 1))  # room to grow
    redrawn = [(pen, distance <= (pen - now) / 2) for pen in pens]

    def unlike_training(candidate: tuple[float, np.ndarray]) -> float:
        drawn = candidate[1]
        if not drawn.any():
            return np.inf
        if dataset == "mnist":
            return abs(stroke_width(drawn) / max(crop_to_ink(drawn.astype(np.float32)).shape) - MNIST_STROKE)
        return abs(training_layout(drawn, dataset).sum() - digits_ink_amount())

    pen, drawn = min(redrawn, key=unlike_training)
    return (drawn if pen >= now else distance <= 0), pen / now  # a thinner pen won: your own strokes, kept


@dataclass
class Reading:
    """One picture on its way to the network, step by step, and how it was unlike the training data."""
    ink: np.ndarray  # bright ink on 0: the paper removed
    strokes: np.ndarray  # the digit's ink only, a mask: specks and far blobs dropped
    specks: int  # how many specks were dropped
    pen: np.ndarray  # the strokes redrawn with the training data's pen (kept, if yours is thicker), cropped
    seen: np.ndarray  # what the network gets, before standardising: the training data's size, layout, values
    unlike: list[str]  # one phrase per way it differs from the training pictures


def preprocess(gray: np.ndarray, dataset: str) -> Reading:
    """A user's grayscale picture -> each step's picture (``seen`` looks like the training data), and how it
    stays unlike them."""
    if max(gray.shape) > 1000:  # a phone photo: 1000 pixels are plenty for one digit, and far faster
        scale = 1000 / max(gray.shape)
        gray = resize(gray, max(1, round(gray.shape[0] * scale)), max(1, round(gray.shape[1] * scale)))
    ink = find_ink(gray)
    strokes, specks, blobs = keep_the_digit(ink)
    pen, wider = match_stroke_width(strokes, dataset)  # wider: how much wider the training pen is than yours
    reading = Reading(ink, strokes, specks, crop_to_ink(pen.astype(np.float32)), training_layout(pen, dataset), [])
    rows, cols = np.nonzero(strokes)
    if len(rows) < 50:
        reading.unlike.append(f"almost no ink ({len(rows)} pixels): too small or faint to read well")
    if rows.min() == 0 or cols.min() == 0 or rows.max() == gray.shape[0] - 1 or cols.max() == gray.shape[1] - 1:
        reading.unlike.append("ink touches the edge: part of the digit may be cut off")
    if wider >= THINNER:
        reading.unlike.append(f"strokes {wider:.0f}x thinner than the training digits' (redrawn to match)")
    if wider <= 1 / THICKER:
        reading.unlike.append(f"strokes {1 / wider:.1f}x thicker than the training digits' (kept)")
    if blobs:
        reading.unlike.append(f"{blobs} more large blob{'s' * (blobs > 1)} of ink away from the digit (ignored)")
    return reading


# ----------------------------------------------------------------------------- predictions


def standardise(X: np.ndarray, checkpoint: dict) -> np.ndarray:
    """x' = (x - mean) / std with the mean and std of 04's training split, as in training."""
    norm = checkpoint["normalisation"]
    return (X - norm["mean"]) / norm["std"]


def read_pictures(model, checkpoint: dict, pictures: list[np.ndarray],
                  names: list[str] | None = None) -> tuple[list[Reading], np.ndarray]:
    """Grayscale pictures -> each one's way to the network (preprocessed like its training data) and its
    probabilities. ``names`` say which picture a refusal (a blank one) is about."""
    readings = []
    for name, picture in zip(names or [None] * len(pictures), pictures):
        try:
            readings.append(preprocess(picture, checkpoint["dataset"]))
        except UserError as error:
            raise UserError(f"{name}: {error}" if name else str(error)) from None
    seen = np.stack([reading.seen for reading in readings])
    return readings, predict_proba(model, standardise(seen.reshape(len(seen), -1), checkpoint))


def top_k(probabilities: np.ndarray, class_names: list[str], k: int = 3) -> str:
    best = np.argsort(probabilities)[::-1][:k]
    return ", ".join(f"{class_names[i]} {probabilities[i]:.1%}" for i in best)


def predict_test_samples(model, checkpoint: dict, args) -> None:
    hyper = checkpoint["hyperparameters"]
    # The split seed of 04's run recovers exactly the test images that training never saw.
    data = load_dataset(checkpoint["dataset"], hyper["seed"], args.data_dir, args.download)
    rng = np.random.default_rng(args.seed)
    chosen = rng.choice(len(data.X_test), size=min(args.samples, len(data.X_test)), replace=False)
    X = data.X_test[chosen]
    probabilities = predict_proba(model, standardise(X, checkpoint))
    names = checkpoint["class_names"]
    predicted = probabilities.argmax(1)
    print(f"\nPredictions on {len(chosen)} held-out test images of {data.name}:")
    print("   true  predicted  top-3 probabilities")
    for true, pred, p in zip(data.y_test[chosen], predicted, probabilities):
        print(f"   {names[true]:>4}  {names[pred]:>9}  {top_k(p, names)}{'' if true == pred else '   <- wrong'}")
    print(f"   {int((predicted == data.y_test[chosen]).sum())}/{len(chosen)} correct "
          f"(04 measured {checkpoint['test_metrics']['accuracy']:.2%} on the whole test set)")

    shape = checkpoint["input_shape"]
    columns = min(8, len(chosen))
    rows = -(-len(chosen) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.9 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, true, pred, p in zip(axes.ravel(), X, data.y_test[chosen], predicted, probabilities):
        ax.imshow(image.reshape(shape), cmap="gray")
        ok = true == pred
        ax.set_title(f"{names[pred]} ({p[pred]:.0%})" + ("" if ok else f"\ntrue {names[true]}"),
                     color="green" if ok else "red", fontsize=9)
    fig.suptitle(f"{data.name} test images: prediction (probability); red = wrong", fontsize=11)
    fig.tight_layout()
    save_figure(fig, "06_test_predictions")

    # The full distribution for the sample the network was least sure of: where the doubt lies.
    unsure = int(probabilities.max(1).argmin())
    true = data.y_test[chosen[unsure]]
    fig, (ax_image, ax_bars) = plt.subplots(1, 2, figsize=(8, 3.2), width_ratios=[1, 2.6])
    ax_image.imshow(X[unsure].reshape(shape), cmap="gray")
    ax_image.set_title(f"true class {names[true]}")
    ax_image.axis("off")
    bars = ax_bars.bar(names, probabilities[unsure], color=["C2" if i == true else "C0" for i in range(len(names))])
    ax_bars.bar_label(bars, labels=[f"{p:.0%}" if p >= 0.01 else "" for p in probabilities[unsure]], fontsize=8)
    ax_bars.set(ylim=(0, 1.1), xlabel="class", ylabel="probability",
                title="class probabilities (green: the true class)")
    fig.suptitle("The test image the network was least sure about", fontsize=11)
    fig.tight_layout()
    save_figure(fig, "06_class_probabilities")


def predict_user_images(model, checkpoint: dict, paths: list[Path]) -> None:
    shape, names = checkpoint["input_shape"], checkpoint["class_names"]
    print(f"\nYour images, preprocessed like {checkpoint['dataset']} ({shape[0]}x{shape[1]}):")
    originals = [read_grayscale(path) for path in paths]
    readings, probabilities = read_pictures(model, checkpoint, originals, [str(path) for path in paths])
    for path, reading, p in zip(paths, readings, probabilities):
        best = int(p.argmax())
        print(f"   {path.name}: {names[best]} ({p[best]:.1%})   top 3: {top_k(p, names)}")
        if reading.unlike:
            print(f"      unlike the training digits: {'; '.join(reading.unlike)}")
    steps = ("your picture", "the ink (paper removed)", "the digit's ink", "redrawn with the\ntraining data's pen",
             f"as the network\nsees it ({shape[0]}x{shape[1]})")
    fig, axes = plt.subplots(len(paths), 6, figsize=(13, 2.4 * len(paths)), squeeze=False,
                             width_ratios=[1, 1, 1, 1, 1, 1.5])
    for i, (row, path, original, reading, p) in enumerate(zip(axes, paths, originals, readings, probabilities)):
        for ax, picture, step in zip(row, (original, reading.ink, reading.strokes, reading.pen, reading.seen), steps):
            ax.imshow(picture, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set(xticks=[], yticks=[], title=step if i == 0 else "")
        row[0].set_ylabel(path.name, fontsize=9)
        row[2].set_xlabel(f"{reading.specks} speck{'s' * (reading.specks != 1)} dropped", fontsize=8)
        best = np.argsort(p)[::-1][:3][::-1]  # the likeliest at the top
        bars = row[5].barh([names[k] for k in best], p[best], color="C0")
        row[5].bar_label(bars, labels=[f"{p[k]:.1%}" for k in best], fontsize=8, padding=2)
        row[5].set(xlim=(0, 1.25), xticks=[0, 0.5, 1], title="top 3 probabilities" if i == 0 else "")
        row[5].set_xlabel(textwrap.fill("; ".join(reading.unlike), 45) if reading.unlike else "", fontsize=7)
    fig.suptitle("Your pictures on their way to the network, one step per column", fontsize=11)
    fig.tight_layout()
    save_figure(fig, "06_your_images")


# ----------------------------------------------------------------------------- drawing your own digit


def paint(ink: np.ndarray, start: tuple[float, float], end: tuple[float, float], radius: float,
          value: float) -> None:
    """Set every pixel within ``radius`` of the segment start -> end (row, col) to ``value``: a round pen.

    A fast mouse jumps many pixels between two events; painting the whole segment keeps the stroke unbroken.
    """
    rows, cols = np.indices(ink.shape)
    (r0, c0), (r1, c1) = start, end
    dr, dc = r1 - r0, c1 - c0
    t = np.clip(((rows - r0) * dr + (cols - c0) * dc) / max(dr * dr + dc * dc, 1e-9), 0.0, 1.0)  # nearest point
    ink[(rows - r0 - t * dr) ** 2 + (cols - c0 - t * dc) ** 2 <= radius ** 2] = value


class DrawingPad:
    """A canvas to draw a digit on; after every stroke the network reads it and the bars show its answer.

    The left mouse button draws, the right one erases, ``c`` or the button clears. The drawing is dark ink
    on white paper, like a scan of a sheet, and goes through ``preprocess`` exactly as an --image file does.
    """

    SIZE, PEN = 200, 9  # canvas and pen radius in pixels: a digit's strokes about as thick as MNIST's

    def __init__(self, model, checkpoint: dict):
        self.model, self.checkpoint = model, checkpoint
        self.names, self.shape = checkpoint["class_names"], checkpoint["input_shape"]
        self.ink = np.zeros((self.SIZE, self.SIZE), dtype=np.float32)  # 1 = ink
        self.pen_at, self.pen_value, self.strokes = None, 1.0, 0
        self.probabilities = np.zeros(len(self.names))  # the network's last answer
        self.fig, (self.ax_pad, self.ax_seen, self.ax_bars) = plt.subplots(
            1, 3, figsize=(12, 4.4), width_ratios=[2, 1, 2.2])
        self.pad_image = self.ax_pad.imshow(1.0 - self.ink, cmap="gray", vmin=0, vmax=1)
        self.ax_pad.set_title("draw here (left: ink, right: erase, c: clear)", fontsize=10)
        self.seen_image = self.ax_seen.imshow(np.zeros(self.shape), cmap="gray", vmin=0, vmax=1,
                                              interpolation="nearest")  # every pixel the network gets, as is
        self.ax_seen.set_title(f"as the network sees it ({self.shape[0]}x{self.shape[1]})", fontsize=10)
        for ax in (self.ax_pad, self.ax_seen):
            ax.set(xticks=[], yticks=[])
            ax.grid(False)
        self.bars = self.ax_bars.bar(self.names, np.zeros(len(self.names)), color="C0")
        self.ax_bars.set(ylim=(0, 1.05), xlabel="class", ylabel="probability", title="draw a digit")
        self.fig.subplots_adjust(left=0.03, right=0.98, bottom=0.2, top=0.88, wspace=0.3)
        self.clear_button = Button(self.fig.add_axes((0.03, 0.04, 0.1, 0.08)), "clear")
        self.clear_button.on_clicked(lambda _: self.clear())
        canvas = self.fig.canvas
        for name, handler in (("button_press_event", self.on_press), ("motion_notify_event", self.on_move),
                              ("button_release_event", self.on_release), ("key_press_event", self.on_key)):
            canvas.mpl_connect(name, handler)

    def on_press(self, event) -> None:
        if event.inaxes is not self.ax_pad or event.button not in (1, 3):
            return
        self.pen_at, self.pen_value = (event.ydata, event.xdata), 1.0 if event.button == 1 else 0.0
        self.on_move(event)

    def on_move(self, event) -> None:
        if self.pen_at is None or event.inaxes is not self.ax_pad:
            return
        here = (event.ydata, event.xdata)  # imshow's x is the column, y the row
        paint(self.ink, self.pen_at, here, self.PEN, self.pen_value)
        self.pen_at = here
        self.pad_image.set_data(1.0 - self.ink)
        self.fig.canvas.draw_idle()

    def on_release(self, event) -> None:
        if self.pen_at is None:
            return
        self.pen_at = None
        self.strokes += 1
        self.read()

    def on_key(self, event) -> None:
        if event.key == "c":
            self.clear()

    def clear(self) -> None:
        self.ink[:] = 0.0
        self.strokes = 0
        self.pad_image.set_data(1.0 - self.ink)
        self.read()

    def read(self) -> None:
        """Preprocess the drawing as an image file would be, predict, and redraw the picture and the bars."""
        try:
            (reading,), (probabilities,) = read_pictures(self.model, self.checkpoint, [1.0 - self.ink])
        except UserError:  # nothing drawn (yet, or any more)
            seen, probabilities = np.zeros(self.shape), np.zeros(len(self.names))
            self.ax_bars.set_title("draw a digit")
        else:
            seen, best = reading.seen, int(probabilities.argmax())
            self.ax_bars.set_title(f"the network reads {self.names[best]} ({probabilities[best]:.1%})")
            print(f"   stroke {self.strokes}: {top_k(probabilities, self.names)}"
                  + "".join(f"   ({note})" for note in reading.unlike))
        self.seen_image.set_data(seen)
        for k, (bar, p) in enumerate(zip(self.bars, probabilities)):
            bar.set_height(p)
            bar.set_color("C2" if p > 0 and k == probabilities.argmax() else "C0")
        self.probabilities = probabilities
        self.fig.canvas.draw_idle()


def main() -> None:
    parser = lesson_parser(__doc__)
    parser.add_argument("--checkpoint", type=Path, help="a .pt file written by 04 (default: the newest in models/)")
    parser.add_argument("--samples", type=positive_int, default=8, help="how many test images to predict")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--image", type=Path, nargs="+", help="your own PNG or JPEG images of single digits")
    source.add_argument("--draw", action="store_true",
                        help="draw a digit with the mouse and watch the network read it (needs a display)")
    add_mnist_arguments(parser)  # an MNIST checkpoint needs the MNIST test images
    args = parser.parse_args()
    seed_everything(args.seed)
    check_figure_writable("06_test_predictions")
    # A display that no GUI toolkit can open leaves matplotlib on a file-only backend: no window either.
    if args.draw and (not interactive(args.no_show) or plt.get_backend().lower() in FILE_ONLY_BACKENDS):
        raise UserError("--draw needs a window to draw in: run it on a desktop with a display, without --no-show")

    path = args.checkpoint or newest_checkpoint()
    if path is None:
        raise UserError(f"no checkpoint in models/ yet: train one first with `{TRAIN_COMMAND}`")
    checkpoint = load_checkpoint(path)
    model = build_model(checkpoint)
    metrics = checkpoint["test_metrics"]
    print(f"Loaded {path}: {model.describe()}, trained on "
          f"{checkpoint['dataset']}, test accuracy {metrics['accuracy']:.2%}\n"
          "   (loaded safely: tensors and plain values only)")

    if args.draw:
        pad = DrawingPad(model, checkpoint)
        print("\nDraw a digit in the window: left button draws, right button erases, c or 'clear' starts again.\n"
              "Close the window when you are done; its last state is saved as a figure.")
        plt.show()
        save_figure(pad.fig, "06_draw")
        return
    if args.image:
        predict_user_images(model, checkpoint, args.image)
    else:
        predict_test_samples(model, checkpoint, args)
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
