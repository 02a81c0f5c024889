"""Many years: the options of a run, which plans play side by side, the executors (a process
pool or Dask), the runner that folds results in replication order, precision stopping.
"""
