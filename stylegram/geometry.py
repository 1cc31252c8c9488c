"""The few conventions every module shares, stated once.

- A `Box` is ``(x0, y0, x1, y1)`` in pixels, end-exclusive, like PIL's crop box. Boxes may run
  past the image border (a receptive field does); whoever uses one clips or pads.
- A `Size` is ``(W, H)``, like PIL's ``Image.size``. Tensors keep torch's ``(B, C, H, W)``.
- `Precision` is the network's number format as asked: ``"fp32"``, ``"bf16"``, or ``"auto"``
  for bf16 wherever the device computes it fast. `Resolved` is what it came to on a device
  (`device.precision_on`): ``"fp32"`` or ``"bf16"``, never ``"auto"``. Losses are fp32 either way.
  How fp32 convolves on a CPU is not part of it: partly by Winograd (`vgg.network_for`).

Every manifest key that holds a box says which frame it is in (``box_source``, ``box_scan``).
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

Box = tuple[int, int, int, int]  # x0, y0, x1, y1
Size = tuple[int, int]  # W, H
Precision = Literal["auto", "fp32", "bf16"]
Resolved = Literal["fp32", "bf16"]


def crop(image: Tensor, box: Box) -> Tensor:
    """The part of a (..., H, W) tensor inside `box`, which must lie inside the image."""
    x0, y0, x1, y1 = box
    return image[..., y0:y1, x0:x1]
