"""Lesson 06: preprocessing of the user's images, and every bad input as one clear line."""

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, load_lesson, run_in_process, run_script
from matplotlib.backend_bases import KeyEvent, MouseEvent
from PIL import Image, ImageDraw

from common.checkpoints import CHECKPOINT_FORMAT, save_checkpoint

MLP = load_lesson("04_neural_network_training").MLP


@pytest.fixture(scope="module")
def inference(lesson):
    return lesson("06_neural_network_inference")


def draw_digit(path, size=(300, 200), box=(200, 30, 240, 150), paper="white", ink="black"):
    """A thick, tall stroke (a '1' with a foot) drawn off-centre on a large canvas."""
    image = Image.new("RGB", size, paper)
    draw = ImageDraw.Draw(image)
    draw.rectangle(box, fill=ink)
    draw.rectangle((box[0] - 20, box[3] - 15, box[2] + 20, box[3]), fill=ink)
    image.save(path)
    return path


def test_light_canvas_is_inverted_cropped_and_centred(tmp_path, inference):
    gray = inference.read_grayscale(draw_digit(tmp_path / "digit.png"))
    processed = inference.preprocess(gray, "mnist").seen
    assert processed.shape == (28, 28)
    assert processed[0, 0] == 0 and processed[-1, -1] == 0  # background became black
    assert processed.max() > 0.9  # the ink became bright
    rows, cols = np.nonzero(processed > 0.2)
    assert max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == 20  # fits a 20x20 box
    com_r, com_c = inference.centre_of_mass(processed)
    assert abs(com_r - 13.5) <= 1 and abs(com_c - 13.5) <= 1  # centred by centre of mass


def test_dark_canvas_is_not_inverted_and_digits_take_the_training_layout(tmp_path, inference):
    gray = inference.read_grayscale(draw_digit(tmp_path / "dark.jpg", paper="black", ink="white"))
    processed = inference.preprocess(gray, "digits").seen
    assert processed.shape == (8, 8)
    assert processed[0, 0] < 0.05 and processed.max() > 0.9
    rows, _ = np.nonzero(processed > 0.2)
    assert rows.min() == 0 and rows.max() == 7  # a tall digit spans the full height, as the training digits do


def test_digits_ink_box_is_measured_and_a_wide_drawing_keeps_off_the_edge_columns(tmp_path, inference):
    assert inference.digits_ink_box() == (8, 6)  # all 8 rows, 6 of the 8 columns (90th percentiles)
    wide = inference.read_grayscale(draw_digit(tmp_path / "wide.png", size=(300, 300), box=(30, 120, 270, 180)))
    processed = inference.preprocess(wide, "digits").seen
    _, cols = np.nonzero(processed > 0.2)
    assert cols.min() >= 1 and cols.max() <= 6  # never columns 0 or 7, which the training digits hardly use


def test_blank_image_is_refused(tmp_path, inference):
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    with pytest.raises(Exception, match="blank"):
        inference.preprocess(inference.read_grayscale(tmp_path / "blank.png"), "mnist")


def stroke_picture(size=(200, 200), paper=0.95, ink=0.1, width=8, light=None) -> np.ndarray:
    """A digit-like stroke (a 7: a bar and a slanted line) on paper, lit by ``light`` (an array or None)."""
    image = Image.new("L", size, 0)
    ImageDraw.Draw(image).line([(60, 40), (140, 40), (90, 170)], fill=255, width=width)
    coverage = np.asarray(image, dtype=np.float32) / 255
    picture = paper * (1 - coverage) + ink * coverage
    return (picture if light is None else picture * light).astype(np.float32)


def test_find_ink_removes_grey_paper_a_gradient_and_a_shadow(inference):
    h, w = 200, 200
    cases = {"grey paper": None, "gradient": np.linspace(1.0, 0.45, w)[None, :].repeat(h, 0),
             "shadow": np.where(np.arange(w)[None, :] < 100, 0.5, 1.0).repeat(h, 0)}
    stroke = stroke_picture(paper=1.0, ink=0.0) < 0.5
    for name, light in cases.items():
        ink = inference.find_ink(stroke_picture(paper=0.6 if light is None else 0.95, light=light))
        far_from_ink = ndimage_distance(stroke) > 6
        assert ink[far_from_ink].max() < 0.15, name  # the paper became (almost) 0, wherever the light was
        assert np.median(ink[stroke]) > 0.8, name  # and the stroke is bright, in the shadow as well
    chalk = inference.find_ink(1.0 - stroke_picture())  # light on dark: found the other way round
    assert np.median(chalk[stroke]) > 0.8 and chalk[~stroke].mean() < 0.05


def ndimage_distance(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.distance_transform_edt(~mask)


def test_keep_the_digit_drops_specks_and_far_blobs_but_keeps_a_second_stroke(inference):
    ink = (stroke_picture(paper=1.0, ink=0.0) < 0.5).astype(np.float32)
    ink[5:8, 5:8] = 1.0  # a speck in a corner
    ink[150:190, 150:158] = 1.0  # a bar close to the digit: a second stroke of it, as a 5's bar would be
    kept, specks, blobs = inference.keep_the_digit(ink)
    assert specks == 1 and blobs == 0 and not kept[5:8, 5:8].any() and kept[150:190, 150:158].all()
    big = np.zeros((200, 600), dtype=np.float32)
    big[:, :200] = ink
    big[70:110, 480:520] = 1.0  # a large blob far away (smaller than the digit, or it would be read)
    kept, specks, blobs = inference.keep_the_digit(big)
    assert blobs == 1 and not kept[:, 400:].any() and kept[40, 60:140].all()


def test_stroke_width_measures_the_pen_and_a_thin_pen_keeps_its_ink_at_8x8(inference):
    for width in (3, 8, 16):
        mask = stroke_picture(paper=1.0, ink=0.0, width=width) < 0.5
        assert abs(inference.stroke_width(mask) - width) <= 0.25 * width + 1
    thin = inference.preprocess(stroke_picture(width=2), "digits")
    # Shrunk as it was, a 2-pixel line covers a tenth of an 8x8 pixel; redrawn, it holds a training digit's ink.
    assert thin.seen.max() > 0.9 and abs(thin.seen.sum() - inference.digits_ink_amount()) < 3
    mnist = inference.preprocess(stroke_picture(width=2), "mnist").pen
    assert abs(inference.stroke_width(mnist > 0.5) / max(mnist.shape) - inference.MNIST_STROKE) < 0.03


def test_pictures_unlike_the_training_data_are_named(inference):
    assert inference.preprocess(stroke_picture(width=8), "mnist").unlike == []  # an ordinary pen: nothing to say
    tiny = np.full((200, 200), 0.95, dtype=np.float32)
    tiny[100:105, 100:106] = 0.1
    cut = stroke_picture()[:, 75:]  # the bar runs off the left edge
    two = np.concatenate([stroke_picture(), stroke_picture()], axis=1)  # two digits side by side, far apart
    for picture, words in [(tiny, "almost no ink"), (cut, "touches the edge"), (stroke_picture(width=2), "thinner"),
                           (np.pad(stroke_picture(width=60), 40, constant_values=0.95), "thicker"), (two, "blob")]:
        unlike = inference.preprocess(picture, "mnist").unlike
        assert any(words in note for note in unlike), (words, unlike)


def test_learner_picture_set_is_the_same_for_a_seed(lesson):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    learner = lesson("benchmarks/learner_digits")
    kinds, labels, pictures = learner.learner_set(seed=3, per_digit=1)
    again = learner.learner_set(seed=3, per_digit=1)[2]
    other = learner.learner_set(seed=4, per_digit=1)[2]
    assert len(pictures) == 10 * len(learner.KINDS) and sorted(set(labels)) == list(range(10))
    assert all(np.array_equal(a, b) for a, b in zip(pictures, again))
    assert not any(np.array_equal(a, b) for a, b in zip(pictures, other))
    assert all(0 <= p.min() and p.max() <= 1 for p in pictures)
    assert 10 * len(learner.KINDS) * 3 >= 200  # the default set: at least 200 pictures


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "digits.pt"
    result = run_in_process("04_neural_network_training.py", "--epochs", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_predicts_test_samples_and_user_images(tmp_path, checkpoint_path):
    result = run_script("06_neural_network_inference.py", "--checkpoint", str(checkpoint_path), "--samples", "5",
                        out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "top-3 probabilities" in result.stdout and "/5 correct" in result.stdout
    assert (tmp_path / "figures" / "06_test_predictions.png").is_file()

    png, jpg = draw_digit(tmp_path / "one.png"), draw_digit(tmp_path / "two.jpg", paper="black", ink="white")
    result = run_in_process("06_neural_network_inference.py", "--checkpoint", str(checkpoint_path), "--image",
                            str(png), str(jpg))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "one.png:" in line or "two.jpg:" in line]
    assert len(lines) == 2 and all("%" in line for line in lines)


def test_no_checkpoint_names_the_command_to_run(inference, monkeypatch, capsys):
    monkeypatch.setattr(inference, "newest_checkpoint", lambda: None)
    monkeypatch.setattr("sys.argv", ["06_neural_network_inference.py", "--no-show"])
    with pytest.raises(SystemExit) as exit_info:
        inference.run(inference.main)
    assert exit_info.value.code != 0
    assert "python 04_neural_network_training.py" in capsys.readouterr().err


def test_bad_inputs_are_one_line(tmp_path, checkpoint_path):
    (tmp_path / "corrupt.pt").write_bytes(b"\x80\x02garbage" * 10)
    (tmp_path / "truncated.pt").write_bytes(checkpoint_path.read_bytes()[:1000])
    (tmp_path / "not_an_image.png").write_text("just text")
    save_checkpoint(tmp_path / "mismatch.pt", {
        "format": CHECKPOINT_FORMAT, "state_dict": MLP([4, 3]).state_dict(),
        "architecture": {"sizes": [64, 10, 10]}, "normalisation": {"mean": 0, "std": 1},
        "class_names": list("0123456789"), "dataset": "digits", "input_shape": [8, 8],
        "hyperparameters": {"seed": 0}, "test_metrics": {"accuracy": 1.0},
        "history": [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.0, "val_accuracy": 0.5, "seconds": 1.0}]})
    cases = [
        (["--checkpoint", str(tmp_path / "missing.pt")], "no such checkpoint"),
        (["--checkpoint", str(tmp_path / "corrupt.pt")], "not a usable checkpoint"),
        (["--checkpoint", str(tmp_path / "truncated.pt")], "not a usable checkpoint"),
        (["--checkpoint", str(tmp_path / "not_an_image.png")], "not a usable checkpoint"),
        (["--checkpoint", str(tmp_path / "mismatch.pt")], "do not fit"),
        (["--checkpoint", str(checkpoint_path), "--image", str(tmp_path / "not_an_image.png")], "cannot read"),
        (["--checkpoint", str(checkpoint_path), "--image", str(tmp_path / "nowhere.png")], "no such image"),
        (["--samples", "0"], "--samples"),
    ]
    for args, message in cases:
        assert_one_line_error(run_in_process("06_neural_network_inference.py", *args), message)


@pytest.fixture(scope="module")
def cnn_checkpoint_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "cnn.pt"
    result = run_in_process("04_neural_network_training.py", "--model", "cnn", "--epochs", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def mouse(pad, name: str, row: float, col: float, button: int = 1) -> None:
    """Send the canvas a mouse event at (row, col) of the drawing, as a real mouse would."""

    x, y = pad.ax_pad.transData.transform((col, row))
    pad.fig.canvas.callbacks.process(name, MouseEvent(name, pad.fig.canvas, x, y, button=button))


def stroke(pad, points: list[tuple[float, float]], button: int = 1) -> None:
    mouse(pad, "button_press_event", *points[0], button=button)
    for point in points[1:]:
        mouse(pad, "motion_notify_event", *point, button=button)
    mouse(pad, "button_release_event", *points[-1], button=button)


@pytest.mark.parametrize("which", ["checkpoint_path", "cnn_checkpoint_path"], ids=["mlp", "cnn"])
def test_drawing_pad_turns_strokes_into_ink_and_predictions(inference, request, which, capsys):
    from common.checkpoints import load_checkpoint

    build_model, predict_proba = load_lesson("04_neural_network_training").build_model, load_lesson("04_neural_network_training").predict_proba

    checkpoint = load_checkpoint(request.getfixturevalue(which))
    model = build_model(checkpoint)
    pad = inference.DrawingPad(model, checkpoint)
    mouse(pad, "motion_notify_event", 100, 100)  # moving without a button pressed draws nothing
    assert pad.ink.sum() == 0 and pad.probabilities.sum() == 0

    stroke(pad, [(30, 100), (170, 100)])  # one fast drag: a vertical line, painted in full between two events
    assert pad.ink[30:171, 100].min() == 1 and pad.ink[:, :80].sum() == 0 and pad.ink[:15].sum() == 0
    # The same preprocessing as an --image file, the same network: the bars show exactly its answer.
    seen = inference.preprocess(1.0 - pad.ink, checkpoint["dataset"]).seen
    expected = predict_proba(model, inference.standardise(seen.reshape(1, -1), checkpoint))[0]
    np.testing.assert_allclose(pad.probabilities, expected, rtol=1e-6)
    np.testing.assert_array_equal(pad.seen_image.get_array(), seen)
    assert [bar.get_height() for bar in pad.bars] == pytest.approx(list(expected))
    best = checkpoint["class_names"][int(expected.argmax())]
    assert pad.ax_bars.get_title().startswith(f"the network reads {best} (")
    assert "stroke 1:" in capsys.readouterr().out

    stroke(pad, [(30, 60), (30, 140)])  # a bar on top: the drawing and the answer change
    assert pad.ink[30, 60:141].min() == 1
    assert not np.allclose(pad.probabilities, expected)

    stroke(pad, [(100, 90), (100, 110)], button=3)  # the right button erases
    assert pad.ink[100, 90:111].max() == 0 and pad.ink[50, 100] == 1

    key = KeyEvent("key_press_event", pad.fig.canvas, "c")
    pad.fig.canvas.callbacks.process("key_press_event", key)
    assert pad.ink.sum() == 0 and pad.probabilities.sum() == 0 and pad.ax_bars.get_title() == "draw a digit"
    assert pad.seen_image.get_array().sum() == 0


@pytest.mark.slow
def test_draw_without_a_display_is_one_line(checkpoint_path):
    result = run_script("06_neural_network_inference.py", "--checkpoint", str(checkpoint_path), "--draw")
    assert_one_line_error(result, "--draw needs a window")


def test_draw_on_a_display_no_toolkit_can_open_is_one_line(inference, checkpoint_path, monkeypatch, capsys,
                                                           tmp_path):
    """DISPLAY is set but nothing answers: matplotlib falls back to Agg, which has no window to draw in."""
    monkeypatch.setattr(inference, "interactive", lambda no_show: True)  # as if a display were there
    monkeypatch.setattr("common.plotting.FIGURES_DIR", tmp_path)  # should it get as far as saving a figure
    monkeypatch.setattr("sys.argv", ["06_neural_network_inference.py", "--draw", "--checkpoint", str(checkpoint_path)])
    assert inference.plt.get_backend().lower() == "agg"
    with pytest.raises(SystemExit) as exit_info:
        inference.run(inference.main)
    assert exit_info.value.code != 0
    assert "--draw needs a window" in capsys.readouterr().err
