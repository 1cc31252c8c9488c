"""`stylegram layers` prints the published geometry of VGG19 and VGG16."""

from __future__ import annotations

from stylegram.cli import main


def test_layers_lists_every_layer_with_channels_stride_and_receptive_field(capsys):
    assert main(["layers"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()[1:]}
    assert len(rows) == 16 * 2 + 5  # conv and relu per convolution, and five pools
    # By hand from VGG19's architecture: each 3×3 convolution adds 2·stride to the field and each
    # pool doubles the stride: relu1_2 1+2+2 = 5 px at stride 1 ... relu5_4 252 px at stride 16.
    assert rows["relu1_2"] == ["64", "1", "5px"]
    assert rows["relu3_4"] == ["256", "4", "48px"]
    assert rows["relu5_4"] == ["512", "16", "252px"]


def test_layers_of_vgg16(capsys):
    assert main(["layers", "--arch", "vgg16"]) == 0
    out = capsys.readouterr().out
    assert "conv5_3" in out and "conv5_4" not in out


def test_a_reader_that_goes_away_is_no_traceback():
    """`stylegram layers | head -1`: the pipe closes before stylegram writes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "stylegram", "layers"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    proc.stdout.close()  # gone before the imports are done
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141, err
    assert err == b"", err
