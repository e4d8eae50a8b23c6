"""Running past one machine on Ray: the model x task grid, sharded encoding, sharded exact ranking.

Ray is an optional dependency (`pip install 'mteb-xalign[ray]'`); nothing here imports it at
module level, so the package imports without it and `--executor ray` explains how to install it.

- cluster.py   connect: an embedded local Ray (no address) or an existing cluster (--address)
- grid.py      `xalign run --executor ray`: one Ray task per (model, task) pair, results to the driver
- encode.py    a task's unique texts encoded by a pool of Ray actors, one model load per actor
- ranking.py   exact gold ranks as a map-reduce over document shards (metrics.ranking.sharded)
- bench.py     sharded-ranking cost against the single-process ranking
"""
