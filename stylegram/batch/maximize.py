"""Activation maximisation on a Dask cluster: one task per unit.

A unit's picture depends only on its settings and on (seed, layer, unit) (units.maximize), so
a task per unit makes the picture a local batch makes, to the eye. Each task is a few seconds
to a minute of one worker's time (relu1 to relu5 at 128 px and 128 steps, measured on 2 cores
in docs/benchmarks.md), long enough that a task's overhead does not count. Results come back
as tensors of a few hundred KB; the client writes every file, as soon as each arrives.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from torch import Tensor

from ..errors import describe
from ..geometry import Resolved
from ..units.maximize import maximize_units
from ..vgg import layer_infos
from .cluster import InFlight, register_vgg, worker_plugin


@dataclass(frozen=True)
class MaximizeSpec:
    """What every unit's task is made with: the settings `units --optimize` records."""

    size: int
    steps: int
    precision: Resolved  # resolved where the run was asked for ("bf16" or "fp32"), so every worker
    # computes in the precision the pictures' settings name, whatever its own CPU prefers
    weights: str | None


def maximize_unit(layer: str, unit: int, spec: MaximizeSpec) -> Tensor:
    """On a worker: the unit's activation-maximisation image, (1, 3, size, size)."""
    net = worker_plugin().models.network(spec.weights, spec.precision)
    return maximize_units(net, layer, [unit], size=spec.size, steps=spec.steps)


def maximize_on_cluster(
    client, units: Sequence[tuple[str, int]], spec: MaximizeSpec, *, retries: int = 2
) -> Iterator[tuple[str, int, Tensor]]:
    """(layer, unit, image) for each of `units`, in the order they finish on the workers of
    `client`; a unit that failed in every try is a one-line ValueError.

    Args:
        client: a connected `distributed.Client`; VGG is registered on its workers here.
        units: (layer, unit) pairs.
        spec: the settings every image is made with.
        retries: tries after an unexpected error in a task.
    """
    register_vgg(client, spec.weights)
    # The deepest layers' units first: a relu5_4 unit takes ten times a relu1_2 one, and
    # started last they would leave one worker busy while the others wait.
    depth = {layer: i for i, layer in enumerate(layer_infos())}
    todo = iter(sorted(units, key=lambda item: -depth[item[0]]))
    pending: dict[str, tuple[object, tuple[str, int]]] = {}  # future key -> (future, (layer, unit))

    def submit():
        item = next(todo, None)
        if item is None:
            return None
        future = client.submit(maximize_unit, *item, spec, retries=retries, pure=False)
        pending[future.key] = (future, item)
        return future

    flight = InFlight(client, submit)
    if flight.empty:
        return
    try:
        for future in flight:
            _, (layer, unit) = pending.pop(future.key)
            try:
                image = future.result()
            except Exception as exc:
                raise ValueError(
                    f"activation maximisation of {layer} unit {unit} failed on the cluster: "
                    f"{describe(exc)}"
                ) from None
            future.release()
            flight.refill()
            yield layer, unit, image
    finally:
        client.cancel([f for f, _ in pending.values()])
