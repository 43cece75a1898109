"""Regenerate the README's pictures in docs/, and time each lesson: one command, so neither goes stale.

Every lesson runs alone, headless, in a fresh output folder, in the order a learner runs them (06 reads
04's checkpoint, 09 reads 08's), with the default flags; the figures the README shows are copied into
docs/, and the wall time of each run is printed for the README's numbers section. Run nothing else
heavy meanwhile: two torch processes on 2 cores slow each other down many times over.

    python benchmarks/docs_pictures.py                  (about 15 minutes on 2 CPU cores)
    python benchmarks/docs_pictures.py --only 01 02 05  (those lessons' runs only)
    python benchmarks/docs_pictures.py --bpe            (also 08 --tokenizer bpe, about 8 minutes more)

The pictures in NOT_REGENERATED need what this command cannot give: MNIST checkpoints, a window drawn
in by hand, a browser. Each says how it was made.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import learner_digits
from lessons import ROOT
from targets import run_lesson

DOCS = ROOT / "docs"
EXAMPLES = "<learner_digits.EXAMPLES>"  # a few of the learner-like pictures, written at run time
RUNS = [  # (the lesson and its flags, the figures of that run the README shows), in a learner's order
    (["01_neuron_activation.py"], ["01_activations.png"]),
    (["02_perceptron.py"], ["02_perceptron_gates.png"]),
    (["03_multilayer_perceptron.py"], ["03_toy_problems.png"]),
    (["04_neural_network_training.py"], ["04_mlp_digits_confusion_matrix.png"]),
    (["05_visualize_training.py"], ["05_training.gif"]),
    (["05_visualize_training.py", "--demo", "overfit"], ["05_overfitting.png"]),
    (["06_neural_network_inference.py", "--image", EXAMPLES], ["06_your_images.png"]),
    (["07_simple_llm.py"], ["07_ladder.png", "07_attention.png"]),
    (["08_train_llm.py"], ["08_tinyshakespeare_loss_curves.png"]),
    (["09_use_llm.py"], ["09_sampling_knobs.png"]),
    (["10_deploy_llm.py", "--selftest"], []),
]
BPE_RUN = (["08_train_llm.py", "--tokenizer", "bpe"], ["08_tinyshakespeare_bpe_loss_curves.png"])
NOT_REGENERATED = {
    "03_mnist_loss_comparison.png": "03 --dataset mnist, then again with --loss mse --activation sigmoid (MNIST)",
    "06_draw.png": "06 --draw: a window, drawn in by hand",
    "10_browser_page.png": "python benchmarks/page_pictures.py models/08_gpt_tinyshakespeare_bpe.pt (Chromium)",
    "10_page_one_generation.png": "the same command: 10's page during a run",
    "bench_rendered_digits.png": "python benchmarks/rendered_digits.py models/04_mlp_mnist.pt models/04_cnn_mnist.pt",
    "bench_learner_digits.png": "python benchmarks/learner_digits.py models/04_mlp_digits.pt models/04_mlp_mnist.pt "
                                "models/04_cnn_mnist.pt --seed 1 (MNIST checkpoints)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NN", help="run only these lessons (by number)")
    parser.add_argument("--bpe", action="store_true", help="also train 08's BPE model for its picture")
    args = parser.parse_args()
    runs = RUNS + [BPE_RUN] if args.bpe else RUNS
    if args.only:
        runs = [run for run in runs if run[0][0][:2] in args.only]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        print(f"{'command':<60} {'wall s':>7}  pictures copied into docs/")
        examples = [str(path) for path in learner_digits.write_examples(out / "pictures")]
        for command, pictures in runs:
            expanded = [part for arg in command for part in (examples if arg == EXAMPLES else [arg])]
            seconds = run_lesson(*expanded, out=out)
            for picture in pictures:
                made = out / "figures" / picture
                if not made.is_file():
                    raise SystemExit(f"python {' '.join(command)} wrote no figures/{picture}: was it renamed?")
                shutil.copyfile(made, DOCS / picture)
            print(f"{'python ' + ' '.join(command):<60} {seconds:7.1f}  {', '.join(pictures) or '-'}")
    for picture, how in NOT_REGENERATED.items():
        print(f"   not regenerated here: docs/{picture} ({how})")


if __name__ == "__main__":
    main()
