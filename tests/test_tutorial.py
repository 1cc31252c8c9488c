"""docs/tutorial.ipynb runs top to bottom, at small sizes, and shows every picture it promises.

The notebook is executed by nbclient in an IPython kernel of this very interpreter (a kernel
spec written for the test, so that no other Python's "python3" kernel is picked up), with
STYLEGRAM_TUTORIAL_SMALL=1 in its environment. Cells tagged "picture" (by docs/make_tutorial.py)
must each show a PNG image; a figure that goes missing fails the test.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

nbformat = pytest.importorskip("nbformat", reason="the tutorial test needs stylegram[test]")
nbclient = pytest.importorskip("nbclient", reason="the tutorial test needs stylegram[test]")
pytest.importorskip("ipykernel", reason="the tutorial test needs stylegram[test]")

DOCS = Path(__file__).resolve().parents[1] / "docs"
NOTEBOOK = DOCS / "tutorial.ipynb"
CELL_TIMEOUT = 300  # seconds per cell; the whole notebook takes well under a minute when SMALL
KERNEL = "stylegram-tutorial-test"


def generator():
    spec = importlib.util.spec_from_file_location("make_tutorial", DOCS / "make_tutorial.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def picture_cells(notebook) -> list:
    return [c for c in notebook.cells if "picture" in c.get("metadata", {}).get("tags", [])]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The tutorial, executed once for this module's tests."""
    kernels = tmp_path_factory.mktemp("jupyter") / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "stylegram tutorial test",
        "language": "python",
        "env": {"STYLEGRAM_TUTORIAL_SMALL": "1"},
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(kernels.parents[1]))
        patch.setenv("STYLEGRAM_TUTORIAL_SMALL", "1")
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        client = nbclient.NotebookClient(
            notebook,
            kernel_name=KERNEL,
            timeout=CELL_TIMEOUT,
            resources={"metadata": {"path": str(DOCS)}},
        )
        client.execute()  # raises CellExecutionError, with the cell and its traceback, on an error
    return notebook


def test_the_committed_notebook_is_the_generators_without_outputs():
    committed = nbformat.read(NOTEBOOK, as_version=4)
    built = generator().build()
    assert [(c.cell_type, c.id, c.source, c.metadata) for c in committed.cells] == [
        (c.cell_type, c.id, c.source, c.metadata) for c in built.cells
    ], "docs/tutorial.ipynb differs from docs/make_tutorial.py: run the script"
    for cell in committed.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{cell.id} has outputs"
    assert len(picture_cells(committed)) >= 9


def test_every_cell_runs_without_error(executed):
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    errors = [(c.id, o.get("ename")) for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []


def test_every_picture_cell_shows_a_picture(executed):
    cells = picture_cells(executed)
    assert len(cells) >= 9
    for cell in cells:
        pngs = [o.data["image/png"] for o in cell.outputs if "image/png" in o.get("data", {})]
        assert pngs, f"cell {cell.id} shows no picture:\n{cell.source}"
        with Image.open(io.BytesIO(base64.b64decode(pngs[-1]))) as im:
            colours = im.convert("RGB").getcolors(maxcolors=1 << 16)
            assert min(im.size) >= 32, f"cell {cell.id}: a {im.size} picture"
            assert colours is None or len(colours) > 16, f"cell {cell.id}: a blank picture"


def test_the_live_view_redraws_one_picture(executed):
    (cell,) = [c for c in executed.cells if c.cell_type == "code" and "stylegram.live(" in c.source]
    displays = [
        o for o in cell.outputs if o.output_type == "display_data" and "image/png" in o.data
    ]
    assert len(displays) == 1, "stylegram.live draws into one place and updates it"
    assert any("steps in" in o.get("text", "") for o in cell.outputs if o.output_type == "stream")
