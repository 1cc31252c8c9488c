"""What VGG's units learned: the image patches that excite each unit most, and a painting's
Gram matrix read as units. Uses the ground (vgg, image, gram), never style transfer.

    config.py    UnitsConfig and ExplainConfig
    scan.py      one pass over a folder of images, ranked per unit from the cache
    cache.py     the on-disk activation statistics
    project.py   projections: the pixels that drive a unit (deconvnet, guided backpropagation)
    report.py    grids, manifest.json and index.html of a scan;  grids.py  the image layout
    maximize.py  activation maximisation in a decorrelated Fourier basis
    explain.py   explain-style: a painting's strongest and co-occurring channels
"""

from .config import ExplainConfig, UnitsConfig
from .scan import Hit, Scan, list_images, scan

__all__ = ["ExplainConfig", "Hit", "Scan", "UnitsConfig", "list_images", "scan"]
