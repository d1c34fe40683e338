"""The explorer in a real headless browser (Debian's chromium + chromedriver).

Load the page, click a window, wait for both networks' maps, read the DI shown
and compare it with ``captum-lam explain``'s for the window the page chose.
"""

from __future__ import annotations

import json
import shlex
import shutil
import threading

import matplotlib.image
import pytest
from skimage.data import chelsea

from captum_lam.cli import main
from captum_lam.images import read_image

pytest.importorskip("flask", reason="the explorer needs Flask (serve extra)")
pytest.importorskip("selenium", reason="the browser test needs selenium (pip)")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="no headless browser: apt-get install chromium chromium-driver",
    ),
]
MODELS = ["plain-d4", "plain-d8"]


@pytest.fixture(scope="module")
def photo_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("browser") / "cat.png"
    matplotlib.image.imsave(path, chelsea()[120:216, 150:278])  # 96x128
    return path


@pytest.fixture(scope="module")
def server_url(photo_png):
    from captum_lam.explorer._app import create_app, make_server
    from captum_lam.explorer._catalogue import Images, Models, registry_entries

    images = Images()
    image = images.add_file(str(photo_png), read_image(photo_png))
    app = create_app(
        Models(registry_entries()), images, image=image.id, selected=MODELS
    )
    server = make_server(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    app.extensions["lam_runner"].close()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1100")
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def card_state(driver, model):
    from selenium.webdriver.common.by import By

    card = driver.find_element(By.CSS_SELECTOR, f'.card[data-model="{model}"]')
    return card.get_attribute("data-state")


def test_click_a_window_and_read_the_di_of_two_networks(
    browser, server_url, tmp_path, capsys
):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server_url)
    wait = WebDriverWait(browser, 120)
    wait.until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
    )
    canvas = browser.find_element(By.ID, "picture")
    # click at image pixel (x=70, y=50): the window is centred there
    zoom = canvas.size["width"] / 128
    ActionChains(browser).move_to_element_with_offset(
        canvas,
        round(70 * zoom - canvas.size["width"] / 2),
        round(50 * zoom - canvas.size["height"] / 2),
    ).click().perform()
    for model in MODELS:
        wait.until(lambda d, m=model: card_state(d, m) in ("done", "error"))
        assert card_state(browser, model) == "done"
    text = browser.find_element(By.ID, "window-text")
    window = [int(text.get_attribute(f"data-{k}")) for k in ("top", "left", "size")]
    assert window == [50 - 8, 70 - 8, 16]
    for model in MODELS:
        card = browser.find_element(By.CSS_SELECTOR, f'.card[data-model="{model}"]')
        shown = card.find_element(By.CSS_SELECTOR, ".di")
        command = card.find_element(By.CSS_SELECTOR, ".command").text
        words = shlex.split(command)
        assert words[words.index("--window") + 1] == ",".join(map(str, window))
        summary = tmp_path / f"{model}.json"
        code = main(
            [
                *words[1:],
                "--out",
                str(tmp_path / f"{model}.png"),
                "--json",
                str(summary),
            ]
        )
        capsys.readouterr()
        assert code == 0
        expected = json.loads(summary.read_text())["diffusion_index"]
        assert float(shown.get_attribute("data-di")) == pytest.approx(
            expected, abs=1e-6
        )
        assert shown.text == f"{expected:.2f}"


def test_a_refused_window_shows_a_message_and_the_page_goes_on(browser, server_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server_url)
    wait = WebDriverWait(browser, 120)
    wait.until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
    )
    # a window the page would never send: straight through its own request path
    browser.execute_script("chooseWindow({top: 90, left: 0, size: 16})")
    message = browser.find_element(By.ID, "message")
    wait.until(lambda d: message.is_displayed())
    assert "reaches outside the image" in message.text
    browser.execute_script("chooseWindow({top: 10, left: 10, size: 16})")
    wait.until(lambda d: card_state(d, MODELS[0]) == "done")


def test_drag_a_square_to_choose_its_size(browser, server_url):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server_url)
    wait = WebDriverWait(browser, 120)
    wait.until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
    )
    canvas = browser.find_element(By.ID, "picture")
    zoom = canvas.size["width"] / 128
    half_w, half_h = canvas.size["width"] / 2, canvas.size["height"] / 2
    start = (round(20 * zoom - half_w), round(30 * zoom - half_h))
    chain = ActionChains(browser).move_to_element_with_offset(canvas, *start)
    chain.click_and_hold().perform()
    ActionChains(browser).move_by_offset(round(24 * zoom), round(20 * zoom)).perform()
    ActionChains(browser).release().perform()
    text = browser.find_element(By.ID, "window-text")
    wait.until(lambda d: text.get_attribute("data-size"))
    window = [int(text.get_attribute(f"data-{k}")) for k in ("top", "left", "size")]
    assert window == [30, 20, 24]  # the square of the longer side, from the corner
    assert browser.find_element(By.ID, "size").get_attribute("value") == "24"
    wait.until(lambda d: card_state(d, MODELS[0]) == "done")
