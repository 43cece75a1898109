import numpy as np

from common.data import logic_gate


def test_learns_and_or_but_not_xor(lesson):
    perceptron = lesson("02_perceptron")
    correct = {}
    for gate in ("AND", "OR", "XOR"):
        X, y = logic_gate(gate)
        w, b, losses = perceptron.train(X, y, lr=1.0, epochs=2000, rng=np.random.default_rng(0))
        correct[gate] = int(((perceptron.predict_proba(X, w, b) > 0.5) == y).sum())
        if gate == "XOR":
            assert abs(losses[-1] - np.log(2)) < 1e-3  # stuck at "always 0.5"
        else:
            assert losses[-1] < 0.02 < losses[0]
    assert correct["AND"] == 4 and correct["OR"] == 4
    assert correct["XOR"] < 4


def test_gradients_match_finite_differences(lesson):
    perceptron = lesson("02_perceptron")
    X, y = logic_gate("AND")
    w, b, h = np.array([0.3, -0.7]), 0.2, 1e-6
    dw, db = perceptron.gradients(X, y, w, b)
    loss = lambda w, b: perceptron.binary_cross_entropy(perceptron.predict_proba(X, w, b), y)  # noqa: E731
    numeric_dw = [(loss(w + h * e, b) - loss(w - h * e, b)) / (2 * h) for e in np.eye(2)]
    assert np.allclose(dw, numeric_dw, atol=1e-8)
    assert np.isclose(db, (loss(w, b + h) - loss(w, b - h)) / (2 * h), atol=1e-8)
