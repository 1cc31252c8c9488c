"""The real page in headless Chromium through Playwright, against `stylegram serve` on a free
loopback port. Every request the page makes is routed, and any that is not to the loopback
address fails the test. Screenshots go to the test's tmp dir (and $STYLEGRAM_SCREENSHOTS)."""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image

from stylegram.web.config import is_loopback

CHROMIUM = [
    os.environ.get("STYLEGRAM_CHROMIUM", ""),
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    shutil.which("chromium") or "",
    shutil.which("chromium-browser") or "",
]
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 90_000


def chromium() -> str | None:
    return next((p for p in CHROMIUM if p and Path(p).is_file()), None)


@pytest.fixture
def page(tmp_path):
    required = os.environ.get("STYLEGRAM_REQUIRE_BROWSER") == "1"
    exe = chromium()
    if exe is None:
        if required:
            pytest.fail(
                "STYLEGRAM_REQUIRE_BROWSER=1 but no Chromium was found (apt-get install chromium)"
            )
        pytest.skip(
            "no Chromium found at /usr/bin/chromium (apt-get install chromium to run the browser tests)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            raise
        pytest.skip("playwright is not installed")
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=ARGS, headless=True)
        context = browser.new_context(
            accept_downloads=True,
            bypass_csp=True,  # string predicates need eval
            viewport={"width": 1280, "height": 1400},
        )

        def route(r):
            host = urlparse(r.request.url).hostname
            if r.request.url.startswith(("blob:", "data:")) or (host and is_loopback(host)):
                return r.continue_()
            outside.append(r.request.url)
            return r.abort()

        context.route("**/*", route)
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: m.type == "error" and errors.append(m.text))
        yield pg
        context.close()
        browser.close()
    assert not outside, f"requests left the machine: {outside}"
    assert not errors, f"JavaScript errors: {errors}"


def shot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("STYLEGRAM_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)


def problems(page) -> list[str]:
    """What is wrong with the page as it stands: axe-core's serious and critical findings (the
    PyPI package axe-playwright-python bundles axe-core and injects it: nothing is fetched), and
    whether it scrolls sideways at a phone's 390×844 (the viewport is put back after)."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    out = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
        out.append("the page scrolls sideways at 390 px")
    if size is not None:
        page.set_viewport_size(size)
    return out


def command_says(page, text: str) -> None:
    """Wait for the command shown to contain `text` (the server writes it: POST /api/command)."""
    page.wait_for_function(
        "(t) => document.getElementById('command').textContent.includes(t)", arg=text
    )


def set_tiny(page, iterations: int) -> None:
    page.fill("#f-size", "64")
    page.fill("#f-iterations", str(iterations))
    page.fill("#f-scales", "1")
    page.select_option("#f-optimizer", "adam")


def test_upload_run_watch_download_mask_cancel(server, page, tmp_path, content_path, style_path):
    page.goto(server)
    page.wait_for_selector("body[data-ready='1']")
    page.set_input_files("#photo", str(content_path))
    page.set_input_files("#paintings", str(style_path))
    page.wait_for_function("document.getElementById('mask-canvas').width > 100")
    set_tiny(page, 8)

    # Paint a stroke across the photo's upper half with the mouse.
    box = page.locator("#mask-canvas").bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + box["height"] * 0.25)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(
            box["x"] + box["width"] * k / 10 - 10, box["y"] + box["height"] * 0.25, steps=2
        )
    page.mouse.up()
    command_says(page, "--style-masks 0=mask_0.png")
    shot(page, tmp_path, "1-ready")

    page.click("#start")
    versions = set()
    page.wait_for_selector("#state[data-state='running']")
    while page.get_attribute("#state", "data-state") == "running":
        v = page.get_attribute("#preview", "data-version")
        if v:
            versions.add(v)
        page.wait_for_timeout(50)
    page.wait_for_selector("#state[data-state='done']")
    assert len(versions) >= 2, f"the preview changed {len(versions)} times while running"
    page.wait_for_function(
        "document.getElementById('preview').complete && "
        "document.getElementById('preview').naturalWidth == 64"
    )
    assert "step 8/8" in page.inner_text("#state")
    page.fill("#compare-slider", "50")
    page.dispatch_event("#compare-slider", "input")
    shot(page, tmp_path, "2-done")

    with page.expect_download() as download:
        page.click("#download")
    path = tmp_path / "result.png"
    download.value.save_as(str(path))
    result = Image.open(path)
    command = result.text["stylegram:command"]
    assert (
        max(result.size) == 64
        and "--style-masks 0=mask_0.png" in command
        and "/jobs/" not in command
    )
    assert '"size": 64' in result.text["stylegram:settings"]

    # The mask went with the job: white under the stroke, black elsewhere.
    import httpx

    jobs = httpx.get(server + "/api/jobs", timeout=5).json()["jobs"]
    assert jobs[-1]["masks"] is True and "--style-masks 0=mask_0.png" in jobs[-1]["command"]
    mask = Image.open(
        io.BytesIO(
            httpx.get(f"{server}/api/jobs/{jobs[-1]['id']}/files/mask_0.png", timeout=5).content
        )
    )
    w, h = mask.size
    assert mask.getpixel((w // 2, h // 4)) > 200 and mask.getpixel((w // 2, h * 3 // 4)) < 50

    # History shows the finished job; a long job is cancelled from the page.
    page.wait_for_selector(f"#history li[data-id='{jobs[-1]['id']}'][data-state='done']")
    set_tiny(page, 500)
    page.click("#start")
    page.wait_for_function(
        "/^running · step [1-9]/.test(document.getElementById('state').textContent)"
    )
    page.wait_for_function("document.getElementById('preview').naturalWidth > 0")
    page.click("#cancel")
    page.wait_for_selector("#state[data-state='cancelled']")
    assert page.inner_text("#state").startswith("cancelled · step ")
    shot(page, tmp_path, "3-cancelled")

    # An uploaded mask replaces the painted one: white on the left half only.
    half = Image.new("L", Image.open(content_path).size, 0)
    half.paste(255, (0, 0, half.width // 2, half.height))
    half.save(tmp_path / "half.png")
    page.set_input_files("#mask-file", str(tmp_path / "half.png"))
    page.wait_for_function(
        "document.getElementById('mask-canvas').getContext('2d')"
        ".getImageData(20, 100, 1, 1).data[3] > 0",
        timeout=10_000,
    )
    alpha = page.evaluate("""() => { const c = document.getElementById('mask-canvas'), g = c.getContext('2d');
        return [g.getImageData(20, c.height * 0.25, 1, 1).data[3], g.getImageData(c.width - 20, c.height * 0.25, 1, 1).data[3]]; }""")
    assert alpha[0] > 100 and alpha[1] == 0, alpha  # and the painted stroke on the right is gone

    page.fill("#unit-index", "7")
    page.select_option("#unit-layer", "relu3_4")
    page.click("#show-unit")
    page.wait_for_function(
        "document.getElementById('unit-top').naturalWidth > 0 && "
        "document.getElementById('unit-map').naturalWidth > 0"
    )
    page.click("#explain")
    page.wait_for_selector("#explain-list li")
    shot(page, tmp_path, "4-units")


@pytest.fixture(scope="module")
def atlas_dir(folder, tmp_path_factory):
    """An atlas of every unit of relu3_4 (top 9, deconv projections) over the test photos."""
    from stylegram import cli

    out = tmp_path_factory.mktemp("atlas") / "photos"
    argv = ["units", "--images", str(folder), "-o", str(out), "--size", "64", "--layers"]
    argv += ["relu3_4", "--units", "all", "--top", "9", "--atlas", "-q"]
    assert cli.main(argv) == 0
    return out


def test_the_studio_browses_an_atlas_by_keyboard_and_links_explain_to_its_pages(
    atlas_dir, page, tmp_path, style_path
):
    """serve --atlas: a unit chosen in the number box with the keyboard shows its 9 patches with
    their projections, ← and → step through the units, and explain-style's list names its layer
    and painting and links each unit to its atlas page."""
    from tests.web.conftest import serving

    with serving(tmp_path, "--atlas", str(atlas_dir)) as url:
        page.goto(url)
        page.wait_for_selector("#atlas-choice:not(.hidden)")
        page.select_option("#unit-layer", "relu3_4")
        page.focus("#unit-index")
        page.keyboard.press("Control+A")
        page.keyboard.type("12")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "document.getElementById('atlas-title').textContent === 'relu3_4, unit 12' && "
            "document.querySelectorAll('#atlas-hits img').length === 18 && "
            "[...document.querySelectorAll('#atlas-hits img')].every((i) => i.complete && i.naturalWidth > 0)"
        )
        assert page.text_content("#atlas-title") == "relu3_4, unit 12"
        alts = page.eval_on_selector_all("#atlas-hits img", "els => els.map((e) => e.alt)")
        assert sum(a == "its projection" for a in alts) == 9
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "document.getElementById('atlas-title').textContent === 'relu3_4, unit 13'"
        )
        assert page.input_value("#unit-index") == "13"
        href = page.get_attribute("#atlas-page", "href")
        assert href == "/atlas/0/atlas/relu3_4/0013.html"
        shot(page, tmp_path, "atlas-unit")

        page.set_input_files("#paintings", str(style_path))
        page.click("#explain")
        page.wait_for_selector("#explain-list li a")
        assert page.text_content("#explain-title").startswith(f"relu3_4 of {style_path.name}")
        links = page.eval_on_selector_all(
            "#explain-list a", "els => els.map((e) => e.getAttribute('href'))"
        )
        assert links and all(re.fullmatch(r"/atlas/0/atlas/relu3_4/\d{4}\.html", h) for h in links)
        page.click("#explain-list button")
        page.wait_for_function(
            "document.getElementById('map-caption').textContent.includes('starry_night')"
        )
        shot(page, tmp_path, "atlas-explain")

        # The atlas's own pages, as the studio serves them: a unit page and its keys.
        page.goto(url + href)
        page.wait_for_selector("figure img")
        assert len(page.query_selector_all("figure img")) == 18
        page.keyboard.press("ArrowLeft")
        page.wait_for_url("**/0012.html")


def test_paintings_masks_command_and_messages_as_a_new_user_meets_them(
    server, page, tmp_path, content_path, style_path
):
    """Issue 28's first round, each part failing on the page before it: a message about the
    pictures clears when they change (6); a painting is chosen by its name or colour dot, and
    with the arrow keys (7); adding or removing a painting keeps the masks painted (8); the
    command before Start is one the CLI takes, and after it the masks download (2); a painting
    left unpainted paints nowhere and the job is done (1); the explorer says a bad unit where
    the person looks, and drops the last unit's map (6); at 390 px nothing scrolls sideways (5)."""
    import shlex

    import httpx

    from stylegram.cli import build_parser
    from tests.conftest import DATA

    page.goto(server)
    page.wait_for_selector("body[data-ready='1']")
    assert not problems(page), "empty page"
    assert not page.is_visible("#plot") and not page.is_visible("#compare-slider")
    page.click("#explain")
    assert page.inner_text("#explorer-notice") == "add a painting first"
    page.set_input_files("#photo", str(content_path))
    assert page.inner_text("#explorer-notice") == ""
    scream, wreck = DATA / "paintings" / "the_scream.jpg", DATA / "paintings" / "shipwreck.jpg"
    page.set_input_files("#paintings", [str(style_path), str(scream)])
    page.wait_for_function("document.getElementById('mask-canvas').width > 100")
    set_tiny(page, 4)
    item = "#styles li:nth-child({}) ".format
    page.click(item(2) + ".name")
    assert "active" in page.get_attribute(item(2).strip(), "class")
    page.focus(item(2) + "input[type=radio]")
    page.keyboard.press("ArrowUp")
    assert "active" in page.get_attribute(item(1).strip(), "class")
    assert page.is_checked(item(1) + "input[type=radio]")

    box = page.locator("#mask-canvas").bounding_box()
    y = box["y"] + box["height"] * 0.25
    page.mouse.move(box["x"] + 10, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, y, steps=8)
    page.mouse.up()
    stroke = (
        "() => { const c = document.getElementById('mask-canvas');"
        " return c.getContext('2d').getImageData(c.width * 0.25, c.height * 0.25, 1, 1).data[3]; }"
    )
    assert page.evaluate(stroke) > 0
    page.set_input_files("#paintings", str(wreck))
    page.wait_for_selector(item(3).strip())
    assert page.evaluate(stroke) > 0, "adding a painting erased the mask"
    page.click(item(3) + "button")
    assert page.locator("#styles li").count() == 2
    assert page.evaluate(stroke) > 0, "removing a painting erased the mask"

    assert not problems(page), "inputs loaded"
    page.fill("#f-size", "10")  # refused as it is typed, with the CLI's words
    command_says(page, "settings: size")
    assert page.get_attribute("#command", "data-invalid") == "1"
    page.fill("#f-size", "64")
    command_says(page, "--style-masks 0=mask_0.png 1=mask_1.png")
    command = page.inner_text("#command")
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert list(args.style_masks) == ["0=mask_0.png", "1=mask_1.png"], command

    page.click("#start")
    page.wait_for_function(
        "['done', 'failed'].includes(document.getElementById('state').dataset.state)"
    )
    assert page.get_attribute("#state", "data-state") == "done", page.inner_text("#state")
    assert page.text_content("#announce") == "job done"  # the live region says it once
    links = page.locator("#mask-links a")
    assert links.count() == 2
    for k in range(2):
        href = links.nth(k).get_attribute("href")
        assert Image.open(io.BytesIO(httpx.get(server + href, timeout=5).content)).mode == "L"

    shot(page, tmp_path, "paintings-done")
    assert not problems(page), "done"
    page.select_option("#unit-layer", "relu3_4")
    page.fill("#unit-index", "3")
    page.click("#show-unit")
    page.wait_for_function("document.getElementById('unit-map').naturalWidth > 0")
    page.fill("#unit-index", "9999")
    page.press("#unit-index", "Enter")
    assert "relu3_4 has no unit 9999" in page.inner_text("#explorer-notice")
    assert page.inner_text("#notice") == "" and page.get_attribute("#unit-map", "src") is None
    assert not problems(page), "explorer error"

    page.set_viewport_size({"width": 390, "height": 844})
    long = "'/home/someone/" + "a_very_long_folder_name/" * 12 + "photo.jpg': not an image"
    page.evaluate(
        "(t) => ['notice', 'state', 'explorer-notice'].forEach((id) =>"
        " { document.getElementById(id).textContent = t; })",
        long,
    )
    shot(page, tmp_path, "phone")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert not problems(page), "phone width, long messages"


def tab_to(page, selector: str, presses: int = 80) -> None:
    """Press Tab until `selector` has the focus: it is reachable by keyboard, in the tab order."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
    raise AssertionError(f"{selector} is not reached by {presses} presses of Tab")


def choose_files(page, selector: str, files) -> None:
    """Reach a file input by Tab and give it `files`, as the system's file chooser that Space
    opens there would. (Space itself is not pressed: Playwright's file-chooser event raced it
    here, one time in three.)"""
    tab_to(page, selector)
    page.set_input_files(selector, files)


def test_a_job_is_an_address_and_the_page_follows_every_job(
    server, page, tmp_path, content_path, style_path
):
    """Issue 28: the whole job by keyboard alone; the job is the address /#job=<id>, and a
    reload mid-job brings back its photo, paintings, mask, settings (the largest seed exactly),
    picture and plot (3); with two jobs, History follows both as they run, Cancel there stops
    the one it names, and the live panel keeps the one started last (4)."""
    from tests.conftest import DATA

    half = Image.new("L", Image.open(content_path).size, 0)
    half.paste(255, (0, 0, half.width // 2, half.height))
    half.save(tmp_path / "half.png")
    scream = DATA / "paintings" / "the_scream.jpg"
    seed = str(2**63 - 1)

    page.goto(server)
    page.wait_for_selector("body[data-ready='1']")
    choose_files(page, "#photo", str(content_path))
    choose_files(page, "#paintings", [str(style_path), str(scream)])
    page.wait_for_function("document.getElementById('mask-canvas').width > 100")
    choose_files(page, "#mask-file", str(tmp_path / "half.png"))  # for the first painting
    for field, value in [("size", "64"), ("iterations", "3000"), ("scales", "1"), ("seed", seed)]:
        tab_to(page, f"#f-{field}")
        page.keyboard.press("Control+A")
        page.keyboard.type(value)
    tab_to(page, "#f-optimizer")
    page.keyboard.type("adam")
    assert page.input_value("#f-optimizer") == "adam"
    tab_to(page, "#f-photorealistic")  # a flag (issue 26): a checkbox, Space ticks it
    page.keyboard.press("Space")
    command_says(page, "--photorealistic")
    tab_to(page, "#start")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "/^running · step [1-9]/.test(document.getElementById('state').textContent)"
    )
    first = page.evaluate("location.hash").removeprefix("#job=")
    assert re.fullmatch(r"[0-9a-f]+", first), page.url

    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#state[data-state='running']")
    assert page.evaluate("location.hash") == f"#job={first}"
    names = page.locator("#styles .name").all_inner_texts()
    assert names == [style_path.name, scream.name], names
    assert page.evaluate("[...document.getElementById('photo').files].map((f) => f.name)") == [
        content_path.name
    ]
    assert [page.input_value(f"#f-{f}") for f in ("size", "iterations", "seed", "optimizer")] == [
        "64",
        "3000",
        seed,
        "adam",
    ]
    assert page.is_checked("#f-photorealistic") and not page.is_checked("#f-photo_smooth")
    page.wait_for_function("document.getElementById('preview').naturalWidth == 64")
    page.wait_for_function(  # the plot drew the steps before the reload
        "(() => { const c = document.getElementById('plot');"
        " return c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v) => v); })()"
    )
    alpha = page.evaluate("""() => { const c = document.getElementById('mask-canvas'), g = c.getContext('2d');
        return [g.getImageData(20, c.height / 2, 1, 1).data[3], g.getImageData(c.width - 20, c.height / 2, 1, 1).data[3]]; }""")
    assert alpha[0] > 0 and alpha[1] == 0, alpha  # the mask came back: the left half
    command_says(page, f"--seed {seed}")
    shot(page, tmp_path, "reloaded")
    assert not problems(page), "a running job, reopened"

    # A second, short job from the restored inputs: the live panel shows it, queued; History
    # follows the first one's steps, and its Cancel stops that one, not the one shown.
    page.fill("#f-iterations", "3")
    page.click("#start")
    page.wait_for_function(f"location.hash !== '#job={first}'")
    second = page.evaluate("location.hash").removeprefix("#job=")
    running = f"#history li[data-id='{first}'][data-state='running'] .what"
    page.wait_for_selector(f"#history li[data-id='{second}'][data-state='queued']")
    step = page.inner_text(running)
    page.wait_for_function(
        '(t) => { const e = document.querySelector("'
        + running
        + '"); return e && e.textContent !== t; }',
        arg=step,
    )
    assert page.get_attribute("#state", "data-state") == "queued"
    assert not problems(page), "two jobs, one running"
    page.click(f"#history li[data-id='{first}'] .act")
    page.wait_for_selector(f"#history li[data-id='{first}'][data-state='cancelled']")
    page.wait_for_selector("#state[data-state='done']")
    assert page.evaluate("location.hash") == f"#job={second}"

    page.click(f"#history li[data-id='{first}'] button:text('open')")
    page.wait_for_function(f"location.hash === '#job={first}'")
    page.wait_for_selector("#state[data-state='cancelled']")
    assert page.input_value("#f-iterations") == "3000"
    assert not problems(page), "a cancelled job, opened from History"


def test_photo_to_photo_with_segmentations_on_the_page(
    server, page, tmp_path, content_path, style_path
):
    """Issue 26: the studio takes the two segmentations. The command names them as soon as
    both are chosen (one alone is refused in the CLI's words); the job runs, they download
    beside its command, and the job opened again has them back in their inputs."""
    import shlex

    import httpx

    from stylegram.cli import build_parser

    segs = {}
    for field, source in (("content_seg", content_path), ("style_seg", style_path)):
        seg = Image.new("RGB", Image.open(source).size, "white")
        seg.paste((0, 0, 255), (0, 0, seg.width, seg.height // 2))
        seg.save(segs.setdefault(field, tmp_path / f"{field}-drawn.png"))

    page.goto(server)
    page.wait_for_selector("body[data-ready='1']")
    page.set_input_files("#photo", str(content_path))
    page.set_input_files("#paintings", str(style_path))
    set_tiny(page, 4)
    page.check("#f-photorealistic")
    choose_files(page, "#content-seg", str(segs["content_seg"]))
    command_says(page, "settings: style_seg is needed too")
    choose_files(page, "#style-seg", str(segs["style_seg"]))
    command_says(page, "--content-seg content_seg.png --style-seg style_seg.png")
    args = build_parser().parse_args(shlex.split(page.inner_text("#command"))[1:])
    assert args.photorealistic and (args.content_seg, args.style_seg) == (
        "content_seg.png",
        "style_seg.png",
    )
    assert not problems(page), "segmentations chosen"
    shot(page, tmp_path, "segmentations")

    page.click("#start")
    page.wait_for_function(
        "['done', 'failed'].includes(document.getElementById('state').dataset.state)"
    )
    assert page.get_attribute("#state", "data-state") == "done", page.inner_text("#state")
    links = page.locator("#mask-links a")
    assert links.all_inner_texts() == ["content_seg.png", "style_seg.png"]
    for k, field in enumerate(segs):
        got = httpx.get(server + links.nth(k).get_attribute("href"), timeout=5).content
        assert Image.open(io.BytesIO(got)).size == Image.open(segs[field]).size

    job = page.evaluate("location.hash")
    page.click("#clear-segs")
    page.wait_for_function(
        "!document.getElementById('command').textContent.includes('--content-seg')"
    )
    assert "--photorealistic" in page.inner_text("#command")
    page.goto(server + "/")
    page.wait_for_selector("body[data-ready='1']")
    page.goto(server + "/" + job)
    page.wait_for_function("document.getElementById('style-seg').files.length === 1")
    names = "(id) => [...document.getElementById(id).files].map((f) => f.name)"
    assert page.evaluate(names, "content-seg") == ["content_seg.png"]
    assert not problems(page), "a job with segmentations, opened again"
