"""Uncertainty of every reported score: cluster bootstrap intervals and paired comparisons.

- `resampling`: the cluster bootstrap and the paired cluster permutation test (scipy draws,
  this package turns a draw of clusters into a score), Holm's adjustment.
- `intervals`: the interval keys a subset's scores carry, their rules, and task-score
  intervals from per-query files.
- `compare`: `xalign compare MODEL_A MODEL_B`, paired differences per subset and per task.
"""
