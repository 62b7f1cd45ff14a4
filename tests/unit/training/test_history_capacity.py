"""A long run's history stays small: an idle session must fit in 200 KB (docs/performance.md)."""

from __future__ import annotations

from app.training.history import History


def history_bytes(h: History) -> int:
    series = (h.updates, h.epochs)
    return sum(s.steps.itemsize * len(s.steps) + sum(v.itemsize * len(v) for v in s.values.values())
               for s in series)


def test_a_long_runs_history_stays_under_100_kb() -> None:
    h = History()
    metrics = {"train_loss": 0.1, "test_loss": 0.2, "val_loss": None, "train_acc": 0.9, "test_acc": 0.8,
               "val_acc": None}
    most = 0
    for step in range(1, 250_001):  # 100 s at 2,500 updates/s, an epoch every 25
        h.record_update(step, 1.0 / step)
        if step % 25 == 0:
            h.record_epoch(step, step // 25, metrics)
        if step % 997 == 0:
            most = max(most, history_bytes(h))
    assert most <= 100 * 1024, most
    assert len(h.updates) >= 1000 and len(h.epochs) >= 250  # still enough points for a chart
