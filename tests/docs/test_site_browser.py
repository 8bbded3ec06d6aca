"""The built docs site in a real headless browser: every page loads cleanly and fits 1280 px."""
import functools
import http.server
import threading

import pytest

from tests.browser import WIDTH, console_errors

IMAGES_NOT_LOADED = """
return Array.from(document.images)
    .filter(img => !img.complete || img.naturalWidth === 0)
    .map(img => img.getAttribute('src'));
"""
OVERFLOW = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(site):
    """The site over HTTP on a free local port (directory URLs need a server, not file://)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def pages(site):
    return sorted(str(p.relative_to(site).parent) for p in site.rglob("index.html"))


def test_every_page_loads_without_console_errors_images_and_horizontal_scroll(site, served,
                                                                               browser):
    assert browser.execute_script("return window.innerWidth") <= WIDTH
    problems = []
    for page in pages(site):
        url = f"{served}/{'' if page == '.' else page + '/'}"
        browser.get(url)
        errors = console_errors(browser)
        broken = browser.execute_script(IMAGES_NOT_LOADED)
        scroll, client = browser.execute_script(OVERFLOW)
        if errors:
            problems.append(f"{page}: console errors {errors}")
        if broken:
            problems.append(f"{page}: images that did not load {broken}")
        if scroll > client:
            problems.append(f"{page}: scrolls horizontally ({scroll} px of content in {client})")
    assert len(pages(site)) > 20
    assert not problems, "\n".join(problems)
