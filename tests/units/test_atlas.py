"""The unit atlas (units/atlas.py through `stylegram units --atlas`): every page and picture it
links to is there, and a rerun does again only what changed."""

from __future__ import annotations

import importlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag

import pytest

from stylegram import cli
from tests.conftest import DATA
from tests.conftest import SCAN_SIZE as SIZE


class Links(HTMLParser):
    """Every href and src of a page, and the ids it defines."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        for key in ("href", "src"):
            if found.get(key):
                self.targets.append(found[key])
        if found.get("id"):
            self.ids.add(found["id"])


def parse(path: Path) -> Links:
    page = Links()
    page.feed(path.read_text())
    return page


@pytest.fixture(scope="module")
def paintings(tmp_path_factory):
    root = tmp_path_factory.mktemp("paintings")
    for name in ("starry_night.jpg", "the_scream.jpg"):
        (root / name).write_bytes((DATA / "paintings" / name).read_bytes())
    return root


def run_units(argv, capsys):
    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 0, err
    return err


def test_atlas_pages_link_only_to_files_that_exist(
    folder, cache_dir, paintings, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "atlas_report"
    common = ["units", "--images", folder, "-o", out, "--cache", cache_dir, "--size", SIZE]
    common += ["--precision", "fp32", "--layers", "relu2_2", "relu3_4", "-q"]
    base = [*common, "--units", "0-3", "--top", "3", "--atlas"]
    base += ["--optimize", "--opt-units", "1", "--opt-steps", "2", "--opt-size", "32"]
    run_units(base, capsys)
    atlas = out / "atlas"
    pages = sorted(atlas.rglob("*.html"))
    assert {p.relative_to(atlas).as_posix() for p in pages} == {
        "index.html",
        "relu2_2.html",
        "relu3_4.html",
        *(f"{layer}/{u:04d}.html" for layer in ("relu2_2", "relu3_4") for u in range(4)),
    }
    for page in pages:
        for target in parse(page).targets:
            file, anchor = urldefrag(target)
            path = (page.parent / file).resolve()
            assert path.is_file(), (page, target)
            if anchor:
                assert anchor in parse(path).ids, (page, target)
    unit = (atlas / "relu3_4" / "0001.html").read_text()
    assert len(re.findall(r"<figure>", unit)) == 3
    assert len(re.findall(r"_deconv\.png", unit)) == 3  # each patch with its projection
    assert "rel='prev' href='0000.html'" in unit and "rel='next' href='0002.html'" in unit
    assert (
        "Synthesised" in unit and "Synthesised" not in (atlas / "relu3_4" / "0002.html").read_text()
    )
    data = json.loads((out / "manifest.json").read_text())
    assert data["layers"]["relu3_4"]["units"][1]["optimized"] == "opt/relu3_4/0001.png"

    # A rerun that only adds --styles does no scan, no projection and no optimisation again,
    # and each unit page lists the paintings, linked to their explain-style views.
    maximize, project, scan = (
        importlib.import_module(f"stylegram.units.{name}")
        for name in ("maximize", "project", "scan")
    )

    def forbidden(*args, **kwargs):
        raise AssertionError("the rerun redid finished work")

    monkeypatch.setattr(scan, "_scan_chunk", forbidden)
    monkeypatch.setattr(project, "project_hits", forbidden)
    monkeypatch.setattr(maximize, "maximize_units", forbidden)
    run_units([*base, "--styles", paintings], capsys)
    unit_page = atlas / "relu2_2" / "0000.html"
    links = [t for t in parse(unit_page).targets if "styles/" in t]
    assert sorted(Path(urldefrag(t)[0]).parent.name for t in links) == [
        "starry_night",
        "the_scream",
    ]
    for page in [unit_page, *(out / "styles").rglob("index.html")]:
        for target in parse(page).targets:
            file, anchor = urldefrag(target)
            if not file.startswith("http"):
                assert (page.parent / file).is_file(), (page, target)
            if anchor:
                assert anchor in parse(page.parent / file).ids
    shares = [
        p["share"]
        for p in json.loads((out / "manifest.json").read_text())["layers"]["relu2_2"]["units"][0][
            "paintings"
        ]
    ]
    assert shares == sorted(shares, reverse=True) and 0 < shares[-1] <= shares[0] < 1

    # Fewer units: the atlas forgets the others' pages, the report their pictures.
    monkeypatch.undo()
    run_units([*common, "--units", "0-1", "--top", "3", "--atlas"], capsys)
    assert not (atlas / "relu3_4" / "0003.html").exists()
    assert not list((out / "hits").rglob("0003_*.png"))
    assert not (out / "opt").exists()  # no --optimize this time


def test_paintings_get_folders_of_their_own_even_where_names_collide():
    from stylegram.cli.units import _style_names

    paths = [
        Path(n) for n in ("a b.jpg", "a_b.jpg", "a_b_2.jpg", "Starry.jpg", "starry.png", ".jpg")
    ]
    names = _style_names(paths)
    assert len({n.casefold() for n in names}) == len(names)
    assert (
        names[0] == "a_b"
        and names[3] == "Starry"
        and all(re.fullmatch(r"[\w-]+", n) for n in names)
    )


def test_the_studio_refuses_a_folder_that_is_no_atlas_in_one_line(tmp_path):
    from stylegram.web.atlases import check_atlas

    with pytest.raises(ValueError, match="no manifest.json here"):
        check_atlas(tmp_path)
    (tmp_path / "atlas").mkdir()
    (tmp_path / "atlas" / "index.html").write_text("<p>")
    (tmp_path / "manifest.json").write_text('{"layers": {"relu1_2": {}}}')
    with pytest.raises(ValueError, match=r"manifest.json': not a units manifest") as caught:
        check_atlas(tmp_path)
    assert "\n" not in str(caught.value)


def test_an_interrupted_optimisation_keeps_its_images(
    folder, cache_dir, tmp_path, capsys, monkeypatch
):
    """Each synthesised image is written as it is made, its settings inside it: after a Ctrl-C
    the next run makes only the units still missing, and a changed setting makes them all again."""
    maximize = importlib.import_module("stylegram.units.maximize")
    real, made = maximize.maximize_units, []

    def interrupted_after_one_batch(net, layer, units, **kwargs):
        if made:
            raise KeyboardInterrupt
        made.append((layer, list(units)))
        return real(net, layer, units, **kwargs)

    out = tmp_path / "opt_report"
    argv = ["units", "--images", folder, "-o", out, "--cache", cache_dir, "--size", SIZE, "-q"]
    argv += ["--precision", "fp32", "--layers", "relu1_2", "relu2_2", "--units", "0-1"]
    argv += ["--top", "2", "--optimize", "--opt-steps", "2", "--opt-size", "32"]
    argv = [str(a) for a in argv]
    monkeypatch.setattr(maximize, "maximize_units", interrupted_after_one_batch)
    assert cli.main(argv) == 130
    assert sorted(p.relative_to(out).as_posix() for p in (out / "opt").rglob("*.png")) == [
        "opt/relu1_2/0000.png",
        "opt/relu1_2/0001.png",
    ]

    def recorded(net, layer, units, **kwargs):
        made.append((layer, list(units)))
        return real(net, layer, units, **kwargs)

    monkeypatch.setattr(maximize, "maximize_units", recorded)
    made.clear()
    run_units(argv, capsys)
    assert made == [("relu2_2", [0, 1])]
    units = json.loads((out / "manifest.json").read_text())["layers"]["relu1_2"]["units"]
    assert [u["optimized"] for u in units] == ["opt/relu1_2/0000.png", "opt/relu1_2/0001.png"]

    made.clear()
    run_units([*argv, "--opt-steps", "3"], capsys)
    assert made == [("relu1_2", [0, 1]), ("relu2_2", [0, 1])]
