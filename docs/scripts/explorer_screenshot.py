"""Screenshot of the LAM explorer for docs/explorer.md (needs chromium + selenium).

    python docs/scripts/explorer_screenshot.py [docs/images/explorer.png]

Starts the explorer on a free local port with two networks selected, clicks a
window in headless Chromium, waits for both maps and saves the page.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from captum_lam.explorer._app import create_app, make_server

MODELS = ["span-x4-ch48", "swinir-small"]
WINDOW_CENTRE = (228, 180)  # x, y in image pixels: the cat's eye and fur


def main(out: str = "docs/images/explorer.png") -> None:
    app = create_app(image="sample:chelsea", selected=MODELS)
    server = make_server(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
    ):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1100")
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(f"http://127.0.0.1:{server.server_port}/")
        wait = WebDriverWait(driver, 300)
        wait.until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
        )
        canvas = driver.find_element(By.ID, "picture")
        scale = canvas.size["width"] / 451
        x, y = WINDOW_CENTRE
        ActionChains(driver).move_to_element_with_offset(
            canvas,
            round(x * scale - canvas.size["width"] / 2),
            round(y * scale - canvas.size["height"] / 2),
        ).click().perform()
        for name in MODELS:
            wait.until(
                lambda d, name=name: (
                    d.find_element(
                        By.CSS_SELECTOR, f'.card[data-model="{name}"]'
                    ).get_attribute("data-state")
                    == "done"
                )
            )
        # the panels load after the numbers
        wait.until(
            lambda d: d.execute_script(
                "return [...document.querySelectorAll('.result img')]"
                ".every(i => i.complete && i.naturalWidth > 0)"
            )
        )
        # the whole page, without a scroll bar
        height = driver.execute_script("return document.body.scrollHeight")
        inner = driver.execute_script("return window.innerHeight")
        driver.set_window_size(
            1400, driver.get_window_size()["height"] + height - inner
        )
        driver.execute_script("window.scrollTo(0, 0)")
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(out)
        print(f"wrote {out}")
    finally:
        driver.quit()
        server.shutdown()
        app.extensions["lam_runner"].close()


if __name__ == "__main__":
    main(*sys.argv[1:])
