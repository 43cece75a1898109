"""Plumbing shared by the lessons, and the activations lesson 01 teaches (the design card puts them here).

Each lesson keeps its own idea in its own script; what lives here is what no lesson teaches: data loading,
plotting, the command line, records and safe checkpoint files on disk, reading texts, and importing one
lesson's code into another (``common.lessons``).
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where runs write figures/ and models/: the repository, unless NN_TUTORIAL_OUTPUT names another folder
# (the tests point it at a temporary folder so they never touch the learner's files).
OUTPUT_ROOT = Path(os.environ.get("NN_TUTORIAL_OUTPUT") or ROOT)
FIGURES_DIR = OUTPUT_ROOT / "figures"
MODELS_DIR = OUTPUT_ROOT / "models"
DATA_DIR = ROOT / "data"
TEXTS_DIR = ROOT / "texts"


class UserError(Exception):
    """A problem the user can fix (bad path, corrupt file, ...): shown as one line, no traceback."""


class Diverged(UserError):
    """Training blew up: a loss became inf or NaN. The run stops; nothing saved before it is replaced."""
