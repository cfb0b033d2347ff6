r"""Sweeps over a grid of configurations: vmapped over seeds, sharded over devices, resumable.

A ``Grid`` names its axes. Axes that change shapes or code (activation name, depth, width) are
*static*; numeric axes that only change values (seed, learning rate, sigma_w^2) are *batched*
(by default ``seed``, if the grid has it). ``run`` visits each combination of static values (a
*group*) once and computes all its cells in one jitted call:

    fn(static: dict[str, value], batch: dict[str, scalar jax.Array]) -> array | dict of arrays

``fn`` describes ONE cell: ``static`` holds the Python values of the static axes (use them in
Python: ``A.get(static["activation"])``, ``range(static["depth"])``), ``batch`` one scalar array
per batched axis (integers as int32, floats as float32; 64-bit under ``jax.enable_x64``). Seeds
arrive as integers: derive keys inside with ``jax.random.key(batch["seed"])``. The engine vmaps
``fn`` over the product of the batched axes (the *cells* of the group), shards the cells over
the devices (a 1-D ``Mesh``, ``NamedSharding`` inputs, ``jax.shard_map``; padded with copies of
the last cell to fill every device, padding dropped afterwards), jits that once per group, and
writes the group's values to ``out_dir`` as soon as they are ready. ``fn`` is traced once per
computed group, so it must be traceable (no Python ``if`` on batch values) and its output shapes
may depend only on ``static``. Make numeric axes batched and use few static values: each static
group costs one compilation, and only a group's cells are spread over the devices.

Resuming: rerunning the same grid reads finished groups from ``out_dir`` and computes only the
others. A stored group is reused only if its static values, its batched values and ``meta`` all
equal the ones asked for; otherwise it is recomputed and overwritten. Put into ``meta`` anything
else that changes the numbers (width, batch size, a version string for ``fn``'s code).

Same values on any number of devices: one compiled call computes ``chunk`` cells on each
device, and a group needs as many rounds of it as it takes; the program a device runs on its
chunk does not depend on the device count. With a fixed ``chunk`` the results on 1 and on 8
devices are bitwise identical (tested on CPU). The default (``chunk=None``: all of a device's
cells in one round, fastest) changes the per-device batch with the device count, which lets XLA
vectorise and fuse differently and can move the last bits (relative 1e-7 in float32).

Files: ``out_dir/<values>-<hash>.npz`` per group (outputs plus a JSON record of their
configuration, written atomically: a killed run leaves whole files or none) and
``out_dir/index.json`` (grid, batched axes, meta, one entry per finished group with its number
of devices, chunk, compile seconds and total seconds). ``load(out_dir)`` reads a finished sweep
without ``fn``.

Multi-host: call ``jax.distributed.initialize()`` on every process first, then run the same
script everywhere. ``devices`` defaults to ``jax.devices()``, which then lists every device of
every process, so one group's cells are split across all hosts; inputs are placed with
``jax.make_array_from_callback`` (each process fills its own devices) and outputs gathered with
``jax.experimental.multihost_utils.process_allgather``. Process 0 decides which groups are
already finished (broadcast to the others, so all processes compute the same groups) and is the
only one that writes. ``out_dir`` should be storage that all processes can read (shared
filesystem); the returned ``Results`` is complete on process 0, and on the other processes holds
the computed groups and the stored ones they could read. Tested with two processes on one
machine (CPU devices, cross-process collectives through gloo, JAX's default on CPU): the results
equal one process's bitwise at a fixed ``chunk``, only process 0 writes, and a job killed
mid-run resumes from ``out_dir`` without recomputing its finished groups.

Example:
  >>> import jax, jax.numpy as jnp
  >>> from actlab import activations as A
  >>> from actlab.sweep import Grid, run
  >>> def signal(static, batch):
  ...     key = jax.random.key(batch["seed"])
  ...     x = jax.random.normal(key, (32, 64))
  ...     q = []
  ...     for k in jax.random.split(key, static["depth"]):
  ...         x = A.get(static["activation"])(x @ jax.random.normal(k, (64, 64)) / 8)
  ...         q.append(jnp.mean(x**2))
  ...     return {"q": jnp.stack(q)}
  >>> grid = Grid(activation=("relu", "tanh"), depth=(1, 4), seed=range(8))
  >>> results = run(signal, grid, "out/signal", meta={"width": 64})
  >>> results.get(activation="tanh", depth=4)["q"].shape  # (seed, layer)
  (8, 4)
  >>> csv_path = results.write_rows("out/signal.csv")  # one row per value
"""

from actlab.sweep._grid import Grid
from actlab.sweep._results import Results
from actlab.sweep._run import load, run

__all__ = ["Grid", "Results", "load", "run"]
