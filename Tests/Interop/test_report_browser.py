"""`cnnkit report` opened in a real browser, and `cnnkit show` pictures opened by real decoders.

Headless Chromium (Debian's `chromium` and `chromium-driver`, installed by `make deps`) driven by Selenium
(pinned in requirements.txt) opens the report of a freshly trained model: no console errors, every image
decoded, every layer named, a screenshot that is not blank. Then the pictures are checked against the numbers:
the filter grid's brightest pixel is the largest weight (weights read from an npz conversion with numpy), the loss
curve's last point is the stored final loss (`inspect --json`), the confusion matrix sums to the evaluated count
and its diagonal is `evaluate`'s correct count. The PNGs of `show` pass Pillow's decoder and, where installed,
`pngcheck`. Progress lines appear on a terminal and never with `--json` or a redirected stdout.
"""

import io
import json
import os
import pty
import select
import shutil
import subprocess
import time

import numpy as np
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

LIMIT = 500


@pytest.fixture(scope="module")
def made(tmp_path_factory, cnnkit, cnnkit_json, data_dir):
    """A freshly trained model, its float16 copy, its weights as npz, its report and the numbers to check."""
    d = tmp_path_factory.mktemp("report")
    model, other, html = d / "model.cnnz", d / "model16.cnnz", d / "report.html"
    cnnkit("train", "--data", data_dir, "--limit", "400", "--epochs", "1", "--batch-size", "8", "--seed", "5", "--out", model)
    cnnkit("convert", model, other, "--dtype", "float16")
    cnnkit("convert", model, d / "model.npz")
    result = cnnkit("report", model, "-o", html, "--data", data_dir, "--limit", LIMIT, "--against", other)
    assert result.stderr == "", "no progress or warning when stdout is not a terminal"
    return {
        "dir": d, "model": model, "html": html,
        "weights": np.load(d / "model.npz"),
        "inspect": cnnkit_json("inspect", model),
        "evaluate": cnnkit_json("evaluate", model, "--data", data_dir, "--limit", LIMIT),
    }


@pytest.fixture(scope="module")
def browser(made):
    chromedriver = shutil.which("chromedriver")
    assert chromedriver, "chromedriver not found: apt-get install -y chromium chromium-driver (make deps does)"
    options = webdriver.ChromeOptions()
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600"]:
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.get(made["html"].as_uri())
    yield driver
    driver.quit()


def test_page_loads_without_errors_and_every_image_decodes(browser, made):
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], f"console errors: {severe}"
    images = browser.execute_script(
        "return [...document.images].map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}))")
    assert len(images) >= 4, images
    assert all(i["complete"] and i["width"] > 0 for i in images), [i for i in images if not i["width"]]
    sources = browser.execute_script("return [...document.images].map(i => i.src.slice(0, 22))")
    assert all(s.startswith("data:image/png;base64,") for s in sources), "every image is inline"


def test_page_names_every_layer_and_section(browser, made):
    text = browser.find_element("tag name", "body").text
    for layer in made["inspect"]["layers"]:
        assert layer["name"] in text
    rows = browser.execute_script("return [...document.querySelectorAll('tr.layer td:first-child')].map(t => t.textContent)")
    assert rows == [layer["name"] for layer in made["inspect"]["layers"]]
    for heading in ["Architecture", "Integrity and provenance", "Filters", "Feature maps", "Training curves", "Histograms",
                    "Evaluation", "Comparison"]:
        assert heading in text
    assert "PASS" in text and "FAIL" not in text


def test_screenshot_is_not_blank(browser, made, tmp_path):
    picture = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    colours = picture.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50, "a page of pictures has many colours"
    white = sum(n for n, c in colours if c == (255, 255, 255))
    assert white < 0.95 * picture.width * picture.height


def brightest_pixels(browser, index):
    """The pixels of the index-th filter grid with the highest luminance, read from the decoded image in the browser."""
    return browser.execute_script("""
        const img = document.querySelectorAll('img.filter-grid')[arguments[0]];
        const c = document.createElement('canvas');
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, c.width, c.height).data;
        let best = -1, at = [];
        for (let p = 0; p < c.width * c.height; p++) {
            const l = 0.2126 * d[4 * p] + 0.7152 * d[4 * p + 1] + 0.0722 * d[4 * p + 2];
            if (l > best + 1e-9) { best = l; at = [[p % c.width, Math.floor(p / c.width)]]; }
            else if (Math.abs(l - best) <= 1e-9) at.push([p % c.width, Math.floor(p / c.width)]);
        }
        return {at: at, attrs: Object.assign({}, img.dataset)};
    """, index)


def weight_at(attrs, x, y):
    """The (row, column, channel, filter) a pixel of the filter grid shows: GridLayout and FilterGrid, inverted."""
    cell, gap = int(attrs["cell"]), int(attrs["gap"])
    kh, kw, cin, per_row = int(attrs["kernelHeight"]), int(attrs["kernelWidth"]), int(attrs["channels"]), int(attrs["perRow"])
    sx, sy = kw * cell + gap, kh * cell + gap
    tx, ty, ix, iy = (x - gap) // sx, (y - gap) // sy, (x - gap) % sx, (y - gap) % sy
    assert ix < kw * cell and iy < kh * cell, f"pixel ({x}, {y}) is in a gap"
    tile = ty * per_row + tx
    band, channel = tile // (cin * per_row), (tile // per_row) % cin
    return iy // cell, ix // cell, channel, band * per_row + tile % per_row


def test_filter_grid_brightest_pixel_is_the_largest_weight(browser, made):
    convs = [l["name"] for l in made["inspect"]["layers"] if l["type"] == "conv2d"]
    assert convs
    for i, name in enumerate(convs):
        kernel = made["weights"][f"{name}.kernel"]
        found = brightest_pixels(browser, i)
        assert found["attrs"]["layer"] == name
        largest = np.unravel_index(np.argmax(kernel), kernel.shape)
        shown = {weight_at(found["attrs"], x, y) for x, y in found["at"]}
        assert tuple(int(v) for v in largest) in shown, f"{name}: brightest pixels show {shown}, the largest weight is {largest}"
        spread = float(kernel.max() - kernel.min())
        for w in shown:  # ties only among weights the 8-bit colour cannot tell apart
            assert kernel[w] >= kernel.max() - spread / 100


def test_loss_curve_ends_at_the_stored_final_loss(browser, made):
    history = made["inspect"]["training_state"]["history"]
    for chart in ["curve-loss", "epoch-loss"]:
        frame = browser.execute_script(f"""
            const s = document.getElementById('{chart}');
            const pts = s.querySelector('polyline.series').getAttribute('points').trim().split(/\\s+/);
            return {{last: pts[pts.length - 1], count: pts.length, d: Object.assign({{}}, s.dataset)}};""")
        d = {k: float(v) for k, v in frame["d"].items()}
        y = float(frame["last"].split(",")[1])
        value = d["yMax"] - (y - d["top"]) / d["plotHeight"] * (d["yMax"] - d["yMin"])
        pixel = (d["yMax"] - d["yMin"]) / d["plotHeight"]
        assert abs(value - history[-1]["loss"]) <= 0.01 * pixel, f"{chart}: last point {value}, stored loss {history[-1]['loss']}"
    # A one-epoch run still has a curve: 50 steps at batch 8, one point per step.
    assert frame["count"] == 1
    steps = browser.execute_script("return document.querySelector('#curve-loss polyline').getAttribute('points').trim().split(/\\s+/).length")
    assert steps == 50


def test_confusion_matrix_matches_evaluate(browser, made):
    cells = browser.execute_script(
        "return [...document.querySelectorAll('#confusion td')].map(t => [+t.dataset.true, +t.dataset.predicted, +t.textContent])")
    assert len(cells) == 100
    total = sum(n for _, _, n in cells)
    diagonal = sum(n for t, p, n in cells if t == p)
    assert total == made["evaluate"]["count"] == LIMIT
    assert diagonal == made["evaluate"]["correct"]
    assert abs(diagonal / total - made["evaluate"]["accuracy"]) < 1e-12
    header = browser.execute_script("return [...document.querySelectorAll('#confusion tr:first-child th')].map(t => t.textContent)")
    assert header[1:] == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def test_comparison_with_a_float16_copy(browser, made):
    rows = browser.execute_script(
        "return [...document.querySelectorAll('#layer-errors tr')].slice(1).map(r => [...r.cells].map(c => c.textContent))")
    assert [r[0] for r in rows] == [l["name"] for l in made["inspect"]["layers"]]
    assert any(float(r[1]) > 0 for r in rows), "float16 weights change some activation"
    assert all(float(r[1]) < 0.05 * max(float(r[2]), 1e-6) + 1e-3 for r in rows)
    assert browser.find_element("id", "error-histogram") and browser.find_element("id", "error-magnitude")


@pytest.mark.parametrize("what", ["filters", "features", "curves"])
def test_show_writes_a_png_real_decoders_accept(cnnkit, made, what):
    out = made["dir"] / f"{what}.png"
    cnnkit("show", what, made["model"], "-o", out)
    with Image.open(out) as picture:
        picture.verify()
    with Image.open(out) as picture:
        picture.load()
        assert picture.format == "PNG" and picture.mode == "RGB" and picture.width > 50 and picture.height > 20
        colours = {c for _, c in picture.getcolors(maxcolors=1 << 20)}
        if what == "curves":
            assert {(192, 57, 43), (46, 134, 193)} <= colours, "the loss (red) and accuracy (blue) lines are drawn"
        else:
            assert len(colours) > 20, "a colour scale's worth of colours"
    if shutil.which("pngcheck"):
        check = subprocess.run(["pngcheck", str(out)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_show_refuses_what_the_model_lacks(cnnkit, made, tmp_path):
    dense = tmp_path / "dense.json"
    dense.write_text(json.dumps({"input": {"height": 28, "width": 28, "channels": 1},
                                 "layers": [{"type": "flatten"}, {"type": "dense", "units": 10}, {"type": "softmax"}]}))
    model = tmp_path / "dense.cnnz"
    cnnkit("train", "--arch", dense, "--epochs", "0", "--limit", "10", "--out", model)
    result = cnnkit("show", "filters", model, "-o", tmp_path / "f.png", expect=64)
    assert result.stderr.startswith("cnnkit: ") and str(model) in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "f.png").exists()
    result = cnnkit("report", made["model"], "-o", tmp_path / "missing" / "r.html", expect=73)
    assert result.stderr.count("\n") == 1


def run_on_terminal(cnnkit_bin, *args, stdout_terminal=True, seconds=120):
    """Runs cnnkit with stderr (and stdout, unless told otherwise) on a pseudo-terminal; returns what the terminal got."""
    leader, follower = pty.openpty()
    stdout = follower if stdout_terminal else subprocess.DEVNULL
    process = subprocess.Popen([str(cnnkit_bin), *map(str, args)], stdout=stdout, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    received = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            received += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=seconds)
    os.close(leader)
    return process.returncode, received.decode(errors="replace")


def test_progress_only_on_a_terminal_and_never_with_json(cnnkit_bin, made, data_dir):
    # Evaluating 10,000 images in a debug build takes seconds: long enough for the line to be drawn.
    code, seen = run_on_terminal(cnnkit_bin, "evaluate", made["model"], "--data", data_dir)
    assert code == 0
    assert "evaluate: " in seen and "\r\x1b[K" in seen, seen
    assert seen.rstrip().splitlines()[-1].lstrip("\r\x1b[K").startswith("accuracy "), "the line is erased before the result"
    code, seen = run_on_terminal(cnnkit_bin, "evaluate", made["model"], "--data", data_dir, "--json")
    assert code == 0
    assert "\x1b[K" not in seen
    json.loads(seen.strip())
    code, seen = run_on_terminal(cnnkit_bin, "evaluate", made["model"], "--data", data_dir, stdout_terminal=False)
    assert code == 0 and seen == ""
