"""The live page in a real headless Chromium (Debian's, driven by selenium): it loads, shows the frame with
its skeleton and a top-k list that changes while the video plays."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from recbole_poserec.live.__main__ import main
from test_live import RELEASE, train_tiny_checkpoint, write_astronaut_video

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed (CI installs it)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def live_page(tmp_path):
    """The command, on a thread of this process (its imports are done), serving an 8 s video (10 fps,
    --realtime) on a free local port; yields the page's URL and waits for the video's end afterwards."""
    if RELEASE.is_dir():
        model = ["--reference-release", str(RELEASE)]
    else:
        model = ["--checkpoint", str(train_tiny_checkpoint(tmp_path / "model"))]
    video = write_astronaut_video(tmp_path / "astronaut.avi", 80, 10.0)
    port = free_port()
    result = {}
    command = threading.Thread(target=lambda: result.update(code=main(
        ["--source", str(video), *model, "--realtime", "--serve", str(port)])), daemon=True)
    command.start()
    url = f"http://127.0.0.1:{port}/"  # the default host: this machine only
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            break
        except OSError:
            assert command.is_alive() and time.monotonic() < deadline, "the page was never served"
            time.sleep(0.1)
    yield url
    command.join(timeout=60)
    assert result.get("code") == 0


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_page_shows_the_frame_and_a_top_k_that_changes_while_the_video_plays(live_page, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live_page)
    assert browser.title == "PoseRec live"
    wait = WebDriverWait(browser, 30, poll_frequency=0.1)
    image = browser.find_element(By.ID, "frame")
    # (a new frame is loading most of the time, so the width is read in the same call as the check)
    width = wait.until(lambda _: browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth",
                                                        image))
    assert width == 256
    assert "/frame.jpg" in image.get_attribute("src")

    top_k = browser.find_element(By.ID, "top-k")
    first = wait.until(lambda _: top_k.text.strip())
    assert len(top_k.find_elements(By.TAG_NAME, "li")) == 5
    changed = wait.until(lambda _: top_k.text.strip() not in ("", first) and top_k.text.strip())
    assert changed != first
    status = browser.find_element(By.ID, "status").text
    assert "windows (mean score)" in status

    import cv2

    jpeg = urllib.request.urlopen(live_page + "frame.jpg", timeout=10).read()
    frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (256, 256, 3)
