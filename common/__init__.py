"""Helpers shared by two or more lessons of the series.

Each lesson keeps its own idea in its own script; what lives here is plumbing
(data loading, plotting, the command line, records on disk) and the pieces
that several lessons use (activation functions, the PyTorch MLP).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES_DIR = ROOT / "figures"
MODELS_DIR = ROOT / "models"
DATA_DIR = ROOT / "data"


class UserError(Exception):
    """A problem the user can fix (bad path, corrupt file, ...): shown as one line, no traceback."""
