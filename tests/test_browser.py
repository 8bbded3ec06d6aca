"""The headless-browser fixture itself: it loads a local page and reports its console errors."""
from tests.browser import console_errors, open_file


def test_a_clean_page_loads_without_console_errors(browser, tmp_path):
    page = tmp_path / "clean.html"
    page.write_text("<!doctype html><title>ok</title><p id=p>hello</p>", encoding="utf-8")
    assert open_file(browser, page) == []
    assert browser.find_element("id", "p").text == "hello"


def test_a_script_error_is_reported(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!doctype html><title>broken</title><script>undefinedName();</script>",
                    encoding="utf-8")
    errors = open_file(browser, page)
    assert any("undefinedName" in message for message in errors), errors
    assert console_errors(browser) == []    # each call returns only the new messages
