"""The estimators' stopping rules, one small object each: ``update(...) -> Verdict``.

The rules are those documented under ``tol`` in :class:`~pygd.linear_model.GDRegressor`:

- :class:`ValidationStall` (``early_stopping``): the held-out score has not risen
  above ``best + tol`` for ``n_iter_no_change`` epochs;
- :class:`RelativeStall` (mini-batches): the objective has not fallen below
  ``best * (1 - tol)`` for ``n_iter_no_change`` epochs;
- :class:`GradientTest` (one batch is the whole training set, smooth loss):
  converged once the largest component of the least-norm subgradient is at most
  ``tol * sqrt(2 * objective)``; stalled after ``2 * n_iter_no_change`` epochs
  without a new best objective.

What they count lives in one :class:`StallCounter` that the trainer shares
between them and resets at every stall (an "auto" batch that grows, or a
"plateau" rate that falls, starts a new count), so a model that switches
rules between ``partial_fit`` calls keeps one count, as it always has.

Examples
--------
>>> counter = StallCounter()
>>> rule = RelativeStall(counter, tol=0.1, patience=2)
>>> [rule.update(loss).status for loss in (1.0, 0.95, 0.93)]
[None, None, 'stalled']
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Verdict:
    """What a rule says after an epoch.

    ``status`` is None (go on), "converged" (the epoch's starting weights
    passed the test) or "stalled" (no progress: grow the batch, lower the rate,
    or stop); ``reason`` says why in words; ``restart_momentum`` asks the
    trainer to restart SGD's momentum (the objective rose).
    """

    status: str | None = None
    reason: str = ""
    restart_momentum: bool = False


@dataclass
class StallCounter:
    """The progress the rules track: best objective, the last full-batch objective, epochs without progress."""

    best: float = math.inf
    last_full: float = math.inf
    count: int = 0

    def reset(self) -> None:
        """Start counting afresh (after a stall was acted on)."""
        self.best = math.inf
        self.last_full = math.inf
        self.count = 0


@dataclass
class ValidationStall:
    """``early_stopping``: stalled after ``patience`` epochs whose score is not above ``best + tol``."""

    counter: StallCounter
    tol: float | None
    patience: int

    def update(self, score: float, best_score: float | None) -> Verdict:
        """Count the epoch with validation ``score`` against the best score before it."""
        if self.tol is not None and best_score is not None and score <= best_score + self.tol:
            self.counter.count += 1
        else:
            self.counter.count = 0
        return self.verdict()

    def verdict(self) -> Verdict:
        """The verdict on the count so far (no tol: never stalls)."""
        if self.tol is not None and self.counter.count >= self.patience:
            return Verdict("stalled", f"no validation score above the best + {self.tol:g} "
                                      f"for {self.patience} epochs")
        return Verdict()


@dataclass
class RelativeStall:
    """Mini-batches: stalled after ``patience`` epochs not below ``best * (1 - tol)``."""

    counter: StallCounter
    tol: float
    patience: int

    def update(self, loss: float) -> Verdict:
        """Count the epoch with objective ``loss``."""
        counter = self.counter
        if loss >= counter.best - self.tol * abs(counter.best):  # ">=": an objective at 0 cannot improve
            counter.count += 1
        else:
            counter.count = 0
        counter.best = min(counter.best, loss)
        if counter.count >= self.patience:
            return Verdict("stalled", f"the objective did not fall by a relative {self.tol:g} "
                                      f"for {self.patience} epochs")
        return Verdict()


@dataclass
class GradientTest:
    """Full batches, smooth loss: converged when the gradient is small, else stalled or go on."""

    counter: StallCounter
    tol: float
    patience: int

    def update(self, loss: float, optimality: float) -> Verdict:
        """The epoch started at objective ``loss`` with the largest gradient component ``optimality``."""
        if optimality <= self.tol * math.sqrt(2.0 * abs(loss)):
            return Verdict("converged", f"largest gradient component {optimality:.3g} <= "
                                        f"tol * sqrt(2 * objective)")
        counter = self.counter
        restart = loss > counter.last_full
        counter.last_full = loss
        if loss < counter.best:
            counter.best = loss
            counter.count = 0
            return Verdict(restart_momentum=restart)
        counter.count += 1
        if counter.count >= 2 * self.patience:
            return Verdict("stalled", f"no new best objective for {2 * self.patience} epochs",
                           restart_momentum=restart)
        return Verdict(restart_momentum=restart)
