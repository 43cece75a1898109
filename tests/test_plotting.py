import numpy as np

from common import plotting


def test_figures_are_saved_headless(tmp_path, monkeypatch):
    monkeypatch.setattr(plotting, "FIGURES_DIR", tmp_path / "figures")
    fig, ax = plotting.plt.subplots()
    X = np.array([[0, 0], [1, 1], [0, 1]], dtype=float)
    plotting.plot_decision_boundary(ax, lambda g: (g[:, 0] > 0.5).astype(float), X, np.array([0, 1, 0]), "t")
    path = plotting.save_figure(fig, "test_boundary")
    assert path == tmp_path / "figures" / "test_boundary.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    plotting.show_or_close(no_show=False)  # headless: must return at once, not block
    assert plotting.plt.get_fignums() == []


def test_no_display_means_no_windows(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert not plotting.display_available()
    assert not plotting.interactive(no_show=False)
