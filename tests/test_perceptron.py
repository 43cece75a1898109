import numpy as np

from common.data import logic_gate


def test_learns_and_or_but_not_xor(lesson):
    perceptron = lesson("02_perceptron")
    correct = {}
    for gate in ("AND", "OR", "XOR"):
        X, y = logic_gate(gate)
        w, b, losses = perceptron.train(X, y, lr=1.0, epochs=2000, rng=np.random.default_rng(0))
        decisions = perceptron.decide(perceptron.predict_proba(X, w, b))
        correct[gate] = sum(d == target for d, target in zip(decisions, y))
        if gate == "XOR":
            assert abs(losses[-1] - np.log(2)) < 1e-6  # ln 2: "always 0.5"
            assert decisions == [None] * 4 and np.abs(w).max() < 1e-6
        else:
            assert losses[-1] < 0.02 < losses[0]
    assert correct == {"AND": 4, "OR": 4, "XOR": 0}


def test_xor_gradient_vanishes_at_zero_by_symmetry(lesson):
    perceptron = lesson("02_perceptron")
    X, y = logic_gate("XOR")
    dw, db = perceptron.gradients(X, y, np.zeros(2), 0.0)
    assert np.all(dw == 0) and db == 0
    _, db_and = perceptron.gradients(*logic_gate("AND"), np.zeros(2), 0.0)
    assert db_and == 0.25  # AND is not balanced: the bias is pushed down, and training moves on


def test_gradients_match_finite_differences(lesson):
    perceptron = lesson("02_perceptron")
    X, y = logic_gate("AND")
    w, b, h = np.array([0.3, -0.7]), 0.2, 1e-6
    dw, db = perceptron.gradients(X, y, w, b)
    loss = lambda w, b: perceptron.binary_cross_entropy(perceptron.predict_proba(X, w, b), y)  # noqa: E731
    numeric_dw = [(loss(w + h * e, b) - loss(w - h * e, b)) / (2 * h) for e in np.eye(2)]
    assert np.allclose(dw, numeric_dw, atol=1e-8)
    assert np.isclose(db, (loss(w, b + h) - loss(w, b - h)) / (2 * h), atol=1e-8)
