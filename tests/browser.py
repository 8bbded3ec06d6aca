"""A real headless browser for tests of pages a person opens (the HTML drawing, the docs site).

The ``browser`` fixture (registered in ``tests/conftest.py``) is a Selenium
driver for Debian's ``chromium`` with its ``chromedriver``, headless, 1280 px
wide. Without a browser the tests that use it skip, except under ``CI=true``,
where a missing browser fails them (``.ci/run`` installs one).
"""
import os
import shutil

import pytest

WIDTH, HEIGHT = 1280, 900
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
DRIVER_NAMES = ("chromedriver",)
INSTALL_HINT = ("install a headless browser: apt-get install chromium chromium-driver, "
                "and pip install selenium (in the dev extra)")


def _which(names):
    """The first of ``names`` found on PATH, or None."""
    return next((found for found in map(shutil.which, names) if found), None)


def find_browser():
    """``(browser, driver)`` paths, or None when either (or Selenium) is missing."""
    try:
        import selenium  # noqa: F401  (only its presence is checked here)
    except ImportError:
        return None
    browser, driver = _which(CHROMIUM_NAMES), _which(DRIVER_NAMES)
    return (browser, driver) if browser and driver else None


def start_browser():
    """A headless Chromium driven by Selenium; skips (or fails under ``CI=true``) without one."""
    found = find_browser()
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but no browser was found: {INSTALL_HINT}")
        pytest.skip(f"no headless browser: {INSTALL_HINT}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = found
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def console_errors(driver):
    """The page's console messages of level SEVERE since the last call (errors, failed loads)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def open_file(driver, path):
    """Load a local file in the browser and return the console errors it raised while loading."""
    driver.get(f"file://{os.path.abspath(path)}")
    return console_errors(driver)
