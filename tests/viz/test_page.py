"""The interactive page (``Drawing.to_html``), in a real headless browser: it loads without
console errors and without the network, hovering a node shows its facts, clicking a
parameter highlights exactly its uses and rail terms, and the slider highlights a step."""
import re

import pytest

from tapegrad.viz import draw
from tapegrad.viz.models import build
from tests.browser import console_errors, open_file

pytestmark = pytest.mark.needs_dot


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """(path, drawing) of the page of a 3-step Elman RNN."""
    drawing = draw(build("elman", 3)[0], title="Elman RNN, T=3")
    path = tmp_path_factory.mktemp("page") / "elman.html"
    drawing.to_html(path)
    return path, drawing


def node(driver, node_id):
    """The SVG group of a node (the page moves Graphviz's title into ``data-id``)."""
    return driver.find_element("css selector", f'g.node[data-id="{node_id}"]')


def hover(driver, element):
    """The pointer enters ``element`` (the events a real mouse sends)."""
    driver.execute_script(
        "var el = arguments[0], r = el.getBoundingClientRect();"
        "['mouseover', 'mouseenter', 'mousemove'].forEach(function (kind) {"
        "  el.dispatchEvent(new MouseEvent(kind, {clientX: r.x + r.width / 2,"
        "    clientY: r.y + r.height / 2, bubbles: kind !== 'mouseenter'})); });", element)


def test_the_page_is_self_contained(page):
    text = page[0].read_text(encoding="utf-8")
    assert "<svg" in text and "<script>" in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)   # nothing to fetch


def test_page_loads_hover_shows_facts_click_highlights_uses(browser, page):
    path, drawing = page
    assert open_file(browser, path) == []
    ids = browser.execute_script(
        "return Array.from(document.querySelectorAll('g.node')).map(g => g.dataset.id)")
    assert "op_0_add" not in ids and "rows_1_t2" in ids

    hover(browser, node(browser, "rows_1_t2"))
    tip = browser.find_element("id", "tip")
    assert tip.is_displayed()
    assert "weight_ih_l0" in tip.text and "step t=2" in tip.text and "|grad|" in tip.text
    assert "|value|" in tip.text and "(1, 4): rows of (3, 4)" in tip.text

    node(browser, "param_rnn_weight_hh_l0").click()
    lit = browser.execute_script(
        "return Array.from(document.querySelectorAll('g.node.lit')).map(g => g.dataset.id)")
    uses = drawing.uses("weight_hh_l0")
    assert uses == ["op_6_addmm", "op_8_addmm"]             # t=1 has no recurrent product
    terms = ["rail_rnn_weight_hh_l0_t1", "rail_rnn_weight_hh_l0_t2", "rail_rnn_weight_hh_l0_t3"]
    assert sorted(lit) == sorted(uses + terms + ["param_rnn_weight_hh_l0"])

    slider = browser.find_element("id", "step")
    browser.execute_script("arguments[0].value = 2; arguments[0].dispatchEvent(new Event("
                           "'input'))", slider)
    lit = browser.execute_script(
        "return Array.from(document.querySelectorAll('g.node.lit')).map(g => g.dataset.id)")
    assert "rows_1_t2" in lit and "rows_1_t1" not in lit
    assert console_errors(browser) == []
