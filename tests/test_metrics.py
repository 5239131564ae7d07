"""MacroF1: torchmetrics' macro-F1 (to float32 rounding) in states linear in the number of classes."""

import pytest
import torch
from sklearn.metrics import f1_score
from torchmetrics.classification import MulticlassF1Score

from torchtwolayer.core.metrics import MacroF1
from torchtwolayer.core.tasks import EVAL_BATCH, get_task, rows_per_chunk


def batches(C: int, seed: int, missing_preds: int = 0, missing_targets: int = 0, n: int = 4, m: int = 37):
    """``n`` batches of ``m`` (logits (m, C), targets (m,)); the last ``missing_preds`` classes are never
    predicted and the first ``missing_targets`` never targets (their logits pushed down / targets redrawn)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        Z = torch.randn(m, C, generator=g)
        Z[:, C - missing_preds :] = -1e9
        Y = torch.randint(missing_targets, C, (m,), generator=g)
        out.append((Z, Y))
    return out


CASES = [  # (C, seed, classes never predicted, classes never targets, rows a batch)
    (2, 0, 0, 0, 37),
    (2, 1, 1, 0, 37),  # one class never predicted
    (3, 2, 0, 1, 37),  # one class never a target
    (3, 3, 1, 1, 37),
    (50, 4, 0, 0, 500),  # every class seen
    (50, 5, 10, 10, 37),
    (50, 6, 0, 0, 5),  # 20 rows: most of the 50 classes neither predicted nor targets
]


@pytest.mark.parametrize(("C", "seed", "no_pred", "no_target", "m"), CASES)
def test_macro_f1_matches_torchmetrics_and_sklearn(C, seed, no_pred, no_target, m):
    """Same value as MulticlassF1Score(average="macro") (float32: 1e-6); sklearn over the classes
    predicted or present (torchmetrics leaves out a class seen in neither; sklearn's
    labels=range(C) would count it as 0 — equal to it when every class is seen)."""
    data = batches(C, seed, no_pred, no_target, m=m)
    ours, theirs = MacroF1(C), MulticlassF1Score(C, average="macro")
    for Z, Y in data:
        ours.update(Z, Y)
        theirs.update(Z, Y)
    preds = torch.cat([Z.argmax(1) for Z, _ in data]).numpy()
    target = torch.cat([Y for _, Y in data]).numpy()
    seen = sorted(set(preds) | set(target))
    expected = f1_score(target, preds, average="macro", labels=seen, zero_division=0)
    assert ours.compute().item() == pytest.approx(theirs.compute().item(), abs=1e-6)
    assert ours.compute().item() == pytest.approx(expected, abs=1e-6)
    if m == 500:
        assert len(seen) == C
    if m == 5:
        assert len(seen) < C  # classes seen in neither preds nor targets: left out of the mean
    if len(seen) == C:
        assert expected == f1_score(target, preds, average="macro", labels=range(C), zero_division=0)


def test_counts_are_exact_and_accept_classes():
    """Integer counts: tp, predicted, actual per class; predicted classes (m,) count like logits (m, C)."""
    metric = MacroF1(4)
    metric.update(torch.tensor([0, 1, 1, 3, 3]), torch.tensor([0, 1, 2, 3, 0]))
    assert metric.tp.tolist() == [1, 1, 0, 1]
    assert metric.predicted.tolist() == [1, 2, 0, 2]
    assert metric.actual.tolist() == [2, 1, 1, 1]
    assert metric.compute().item() == pytest.approx((2 / 3 + 2 / 3 + 0 + 2 / 3) / 4, abs=1e-7)


def test_no_rows_scores_zero_like_torchmetrics():
    """An empty batch is counted (torchmetrics' update fails on one); no rows: 0, as torchmetrics' zero counts give."""
    ours, theirs = MacroF1(3), MulticlassF1Score(3, average="macro")
    ours.update(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    with pytest.warns(UserWarning, match="before"):  # zero counts: compute before any update
        expected = theirs.compute().item()
    assert ours.compute().item() == expected == 0.0


def test_state_is_linear_in_classes():
    """10 000 classes: three (C,) int64 states (240 KB), no C × C matrix, before and after an update."""
    C = 10_000
    metric = MacroF1(C)
    metric.update(torch.randn(5, C), torch.tensor([0, 1, 2, 9_999, 5]))
    states = {name: getattr(metric, name) for name in metric._defaults}
    assert {name: tuple(t.shape) for name, t in states.items()} == {n: (C,) for n in ("tp", "predicted", "actual")}
    assert sum(t.numel() for t in states.values()) == 3 * C


def test_multiclass_task_uses_it_under_the_same_key():
    metrics = get_task("multiclass").metrics(10_000)
    assert set(metrics.keys()) == {"acc", "f1"} and isinstance(metrics["f1"], MacroF1)


@pytest.mark.parametrize(
    ("preds", "target", "match"),
    [
        (torch.tensor([0, 3]), torch.tensor([0, 1]), r"\[0, 3\)"),
        (torch.tensor([0, 1]), torch.tensor([-1, 1]), r"\[0, 3\)"),
        (torch.tensor([0, 1, 2]), torch.tensor([0, 1]), "shape"),
    ],
)
def test_bad_classes_are_refused(preds, target, match):
    with pytest.raises(ValueError, match=match):
        MacroF1(3).update(preds, target)


@pytest.mark.parametrize("bad", [1, 2.0, True])
def test_bad_number_of_classes_is_refused(bad):
    with pytest.raises(ValueError, match="num_classes"):
        MacroF1(bad)


def test_rows_per_chunk_bounds_the_outputs():
    assert rows_per_chunk(1) == EVAL_BATCH
    assert rows_per_chunk(10_000) == 419  # 4 194 304 outputs
    assert rows_per_chunk(30, budget=100) == 3
    assert rows_per_chunk(10**9) == 1
    assert rows_per_chunk(0) == EVAL_BATCH
