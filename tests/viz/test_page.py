"""The interactive page (``Drawing.to_html``), in a real headless browser: it loads without
console errors and without the network, hovering a node shows its facts, clicking a
parameter highlights exactly its uses and rail terms, and the slider highlights a step."""
import re

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

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
    return driver.find_element(By.ID, "view").find_element(
        By.XPATH, f".//*[local-name()='g'][@class='node' or contains(@class, 'node ')]"
                  f"[@data-id='{node_id}']")


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

    ActionChains(browser).move_to_element(node(browser, "rows_1_t2")).perform()
    tip = browser.find_element(By.ID, "tip")
    assert tip.is_displayed()
    assert "weight_ih_l0" in tip.text and "step t=2" in tip.text and "|grad|" in tip.text

    node(browser, "param_rnn_weight_hh_l0").click()
    lit = browser.execute_script(
        "return Array.from(document.querySelectorAll('g.node.lit')).map(g => g.dataset.id)")
    uses = drawing.uses("weight_hh_l0")
    assert uses == ["op_6_matmul", "op_9_matmul"]           # t=1 has no recurrent product
    terms = ["rail_rnn_weight_hh_l0_t1", "rail_rnn_weight_hh_l0_t2", "rail_rnn_weight_hh_l0_t3"]
    assert sorted(lit) == sorted(uses + terms + ["param_rnn_weight_hh_l0"])

    slider = browser.find_element(By.ID, "step")
    browser.execute_script("arguments[0].value = 2; arguments[0].dispatchEvent(new Event("
                           "'input'))", slider)
    lit = browser.execute_script(
        "return Array.from(document.querySelectorAll('g.node.lit')).map(g => g.dataset.id)")
    assert "rows_1_t2" in lit and "rows_1_t1" not in lit
    assert console_errors(browser) == []
