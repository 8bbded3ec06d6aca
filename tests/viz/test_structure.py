"""What the DOT source contains: nodes, clusters, use and rail edges, elision, errors.

No Graphviz needed: these read ``Drawing.source`` only.
"""
import re
import xml.etree.ElementTree as ET

import numpy
import pytest

import tapegrad as tg
from dot_reading import clusters, edges, html_labels, node_ids
from tapegrad.viz import DrawError, draw
from tapegrad.viz.models import MODELS, build


def step_clusters(source):
    """The clusters of drawn steps (not those of elided runs)."""
    return [c for c in clusters(source) if not c.startswith("cluster_elided_")]


def params_in(source):
    return [n for n in node_ids(source) if n.startswith("param_")]


def test_each_parameter_is_one_node(elman):
    source = draw(elman(steps=3).loss).source
    assert sorted(params_in(source)) == ["param_W_hh", "param_W_hy", "param_W_xh", "param_b"]
    for name in ("W_xh", "W_hh", "b", "W_hy"):     # stated once (later lines only add a group)
        assert len(re.findall(rf"^\s*param_{name} \[.*label=", source, re.M)) == 1


def test_one_cluster_per_step_in_time_order(elman):
    source = draw(elman(steps=3).loss).source
    assert clusters(source) == ["cluster_rnn_cell_t_1", "cluster_rnn_cell_t_2",
                                "cluster_rnn_cell_t_3"]


def test_each_use_carries_its_parameters_colour(elman):
    d = draw(elman(steps=3).loss)
    assert d.uses("W_hh") == ["op_1_matmul", "op_6_matmul", "op_11_matmul"]
    assert d.uses("W_hy") == ["rows_15_t3"]     # after the loop, but on step 3's state
    colour = re.search(r"^\s*param_W_hh \[.*color=\"(#[0-9a-f]+)\"", d.source, re.M).group(1)
    for node in d.uses("W_hh"):
        assert re.search(rf'^\s*{node} \[.*color="{colour}", penwidth="3"', d.source, re.M)
    assert not [e for e in edges(d.source) if e[0].startswith("param_")]


def test_rail_sums_one_term_per_step(elman):
    source = draw(elman(steps=3).loss, focus="W_hh").source
    rail = [(t, h) for t, h, _ in edges(source) if "rail_W_hh" in t + h]
    assert rail == [("op_1_matmul", "rail_W_hh_t1"), ("op_6_matmul", "rail_W_hh_t2"),
                    ("op_11_matmul", "rail_W_hh_t3"), ("rail_W_hh_t1", "rail_W_hh_t2"),
                    ("rail_W_hh_t2", "rail_W_hh_t3"), ("rail_W_hh_t3", "rail_W_hh_sum")]
    assert "W_hh.grad</B><BR/><FONT POINT-SIZE=\"10\">= Σ of 3 terms" in source


def test_default_focus_is_every_shared_weight(elman):
    source = draw(elman(steps=3).loss).source
    rails = {re.sub(r"_(t\d+|sum)$", "", n) for n in node_ids(source) if n.startswith("rail_")}
    assert rails == {"rail_W_hh", "rail_W_xh"}      # W_hy is used at t=3 only: not shared
    assert "shared, no rail" in source              # b is listed with its shares


def test_nn_rnn_gets_a_rail_for_the_input_recurrent_and_output_weights():
    loss, _ = build("elman", 3)
    d = draw(loss)
    for name in ("rnn_weight_ih_l0", "rnn_weight_hh_l0", "head_weight"):
        assert [f"rail_{name}_t{t}" in node_ids(d.source) for t in (1, 2, 3)] == [True] * 3
    assert "rail_rnn_weight_hh_l0_t1" in d.source and "(not used)" in d.source
    assert "batched: in0 @ weight_ih_l0ᵀ" in d.source and "rnn.weight_hh_l0 is not used at t=1" \
        in d.source
    assert d.uses("weight_ih_l0") == ["rows_1_t1", "rows_1_t2", "rows_1_t3"]


def test_focus_several_and_unknown(elman):
    source = draw(elman(steps=2).loss, focus=["W_xh", "b"]).source
    assert {"rail_W_xh_sum", "rail_b_sum"} <= set(node_ids(source))
    with pytest.raises(DrawError, match="no parameter named 'V'.*W_xh, W_hh, b, W_hy"):
        draw(elman(steps=2).loss, focus="V")


def test_rail_labels_carry_norm_and_share(elman):
    net = elman(steps=3, zero_h0=True)
    d = draw(net.loss)
    ledger = d.ledger("W_hh")
    for entry in ledger:
        share = f"({100 * entry.share:.0f}%)"
        assert re.search(rf'rail_W_hh_t{entry.step} \[label=<[^\n]*{re.escape(share)}',
                         d.source)
    assert re.search(r"rail_W_hh_t1 \[label=<[^\n]*>0  \(0%\)<", d.source)   # exactly zero


def test_long_sequences_elide_the_middle_and_keep_the_sum(elman):
    net = elman(steps=12)
    d = draw(net.loss)
    assert len(step_clusters(d.source)) == 6
    assert "elided_rnn_cell_t4_9" in node_ids(d.source)
    assert "rail_W_hh_t4_9" in node_ids(d.source)
    ledger = d.ledger("W_hh")
    middle = sum(e.value for e in ledger if 4 <= e.step <= 9)
    norm = numpy.sqrt((middle ** 2).sum())
    share = sum(e.share for e in ledger if 4 <= e.step <= 9)
    label = re.search(r"rail_W_hh_t4_9 \[label=<([^\n]*)>", d.source).group(1)
    assert "t=4..9" in label and "(6 uses)" in label
    shown = re.search(r"\((-?[0-9.e+-]+)%\)", label).group(1)
    assert float(shown) == pytest.approx(100 * share, rel=0.01)
    assert f"{norm:.3g}" in label and norm > 0
    assert "t=4..9 not drawn" in d.source


@pytest.mark.parametrize("steps,drawn", [("all", 12), (4, 4), ([1, 2, 12], 3)])
def test_steps_option(elman, steps, drawn):
    assert len(step_clusters(draw(elman(steps=12).loss, steps=steps).source)) == drawn


def test_bad_steps_option(elman):
    with pytest.raises(DrawError, match="do not occur"):
        draw(elman(steps=3).loss, steps=[7])
    with pytest.raises(DrawError, match="at least 2"):
        draw(elman(steps=3).loss, steps=1)


def test_max_nodes_is_never_exceeded_silently(elman):
    net = elman(steps=8)
    with pytest.raises(DrawError, match=r"needs \d+ nodes, more than max_nodes=20.*collapse"):
        draw(net.loss, max_nodes=20)
    source = draw(net.loss, max_nodes=400).source
    assert len(node_ids(source)) <= 400


def test_collapse_step_draws_one_box_per_step(lstm):
    source = draw(lstm(steps=3).loss, collapse="step").source
    boxes = [n for n in node_ids(source) if n.startswith("group_")]
    assert boxes == ["group_lstm_cell_t_1", "group_lstm_cell_t_2", "group_lstm_cell_t_3"]
    assert not [n for n in node_ids(source) if n.startswith("op_") and "sigmoid" in n]
    assert ("group_lstm_cell_t_1", "rail_W_t1") in {(t, h) for t, h, _ in edges(source)}
    assert len(step_clusters(source)) == 3


def test_expanded_lstm_shows_its_gates(lstm):
    source = draw(lstm(steps=2).loss).source
    assert sum(1 for n in node_ids(source) if n.endswith("_sigmoid")) == 6
    assert len(clusters(source)) == 2


def test_collapse_by_depth(lstm):
    source = draw(lstm(steps=3).loss, collapse=1).source
    assert [n for n in node_ids(source) if n.startswith("group_")] == ["group_lstm"]
    with pytest.raises(DrawError, match="collapse"):
        draw(lstm(steps=3).loss, collapse=0)


def test_output_is_deterministic_and_ids_are_readable(elman):
    a = draw(elman(steps=4, seed=1).loss).source
    b = draw(elman(steps=4, seed=1).loss).source
    assert a == b
    for n in node_ids(a):
        assert re.fullmatch(r"(op_\d+_[a-z_]+|param_\w+|input_\w+|rail_\w+|rows_\d+_t\d+"
                            r"|anchor_\w+|elided_\w+|group_\w+)", n), n


def test_every_html_label_is_well_formed(elman, lstm):
    sources = [draw(elman(steps=12).loss).source, draw(lstm(steps=3).loss).source,
               draw(lstm(steps=3).loss, collapse="step").source,
               draw(elman(steps=12).loss, view="rolled").source,
               draw(elman(steps=3).loss, view="tape", show=("op", "site", "scope")).source,
               draw(build("lstm", 12)[0]).source,
               draw(build("gru", 4)[0], collapse="step", view="unrolled").source]
    for source in sources:
        labels = html_labels(source)
        assert labels
        for label in labels:
            ET.fromstring(f"<root>{label}</root>")


def test_names_with_markup_are_escaped():
    w = tg.tensor(numpy.ones((2, 2)), requires_grad=True)
    w.name = "w<&>\"x"
    loss = (w @ w).sum()
    source = draw(loss, focus=w.name).source
    for label in html_labels(source):
        ET.fromstring(f"<root>{label}</root>")
    assert "w&lt;&amp;&gt;&quot;x" in source


def test_nan_and_inf_gradients_are_unmistakable():
    p = tg.tensor(numpy.zeros(3), requires_grad=True)
    p.name = "p"
    loss = tg.sqrt(tg.sqrt(p)).sum()        # the inner sqrt's output gets an infinite gradient
    with numpy.errstate(divide="ignore"):
        source = draw(loss, focus="p").source
    inner = re.search(r"^\s*op_0_sqrt \[(.*)\]$", source, re.M).group(1)
    assert "striped" in inner and "#ff00ff" in inner and "|grad| Inf" in inner
    assert "NaN/Inf" in source


def test_released_graph_is_a_clear_error(elman):
    net = elman(steps=2)
    net.loss.backward()
    with pytest.raises(DrawError, match="released by backward.*retain_graph=True"):
        draw(net.loss)


def test_root_must_be_a_recorded_tensor_or_tape():
    with pytest.raises(DrawError, match="leaf"):
        draw(tg.ones(2, requires_grad=True))
    with pytest.raises(DrawError, match="Tensor"):
        draw([1, 2])
    with pytest.raises(DrawError, match="empty"):
        draw(tg.Tape())


def test_a_tape_can_be_drawn(elman):
    with tg.Tape() as tape:
        elman(steps=2)
    d = draw(tape)
    assert len(clusters(d.source)) == 2
    assert d.graph.has_grad and d.ledger("W_hh")[1].norm > 0


def test_a_non_scalar_root_is_drawn_without_gradients():
    w = tg.ones(2, 2, requires_grad=True)
    d = draw(w * 2.0)
    assert "no gradients shown" in d.source
    with pytest.raises(DrawError, match="no gradients"):
        d.ledger("p0")


def test_bad_options():
    loss = (tg.ones(2, requires_grad=True) * 2).sum()
    for kwargs, match in [({"view": "flat"}, "view"), ({"show": ("colour",)}, "show"),
                          ({"color_by": "value"}, "color_by"), ({"max_nodes": 0}, "max_nodes")]:
        with pytest.raises(DrawError, match=match):
            draw(loss, **kwargs)


def test_rolled_view_has_the_cell_once_and_a_strip_per_shared_weight(elman):
    source = draw(elman(steps=12).loss, view="rolled").source
    assert clusters(source) == ["cluster_cell_rnn_cell"]
    assert sum(1 for n in node_ids(source) if n.endswith("_matmul")) == 3   # x@W, h@W, head
    strip = re.search(r"param_W_hh \[.*\n", source).group(0)
    assert strip.count('HEIGHT="16"') == 12
    assert "t → t+1, for t=1..11" in source and "12 terms, summed" in source


def test_rolled_view_draws_a_loop_over_x_t_as_one_input():
    # The Jordan model indexes x[t] at each step: 100 input leaves, one per step.
    source = draw(build("jordan", 100)[0], view="rolled").source
    inputs = [n for n in node_ids(source) if n.startswith("stepinput_")]
    assert len(inputs) == 1
    assert "in0 … in99  (1, 3): one per step, 100 in all" in source
    assert re.search(rf"{inputs[0]} -> op_\d+_matmul \[label=\" ×99\"\]", source)
    assert not re.search(r"^\s*in\d+ \[", source, re.M)      # no node per step


def test_rolled_view_names_vanishing_gradients(elman):
    source = draw(elman(steps=40, seed=2).loss, view="rolled").source
    assert "the gradient vanishes going back in time" in source


def test_tape_view_lists_every_record_in_order(elman):
    net = elman(steps=2)
    d = draw(net.loss, view="tape")
    ops = [n for n in node_ids(d.source) if n.startswith("op_")]
    assert ops == [op.id for op in d.graph.ops]
    assert "#0  v0 = matmul(x1, W_xh)" in d.source


@pytest.mark.parametrize("kind", MODELS)
def test_built_in_models_draw_in_every_view(kind):
    loss, _ = build(kind, 3)
    for view in ("unrolled", "rolled", "tape"):
        assert draw(loss, view=view).source.startswith("digraph")


def test_color_by_none_leaves_operations_unfilled(elman):
    source = draw(elman(steps=3).loss, color_by=None).source
    ops = [line for line in source.splitlines() if re.match(r"\s*op_\d+_\w+ \[label", line)]
    assert ops and not any("fillcolor" in line for line in ops)
    assert "one log scale" not in source


def test_show_chooses_the_label_lines(elman):
    source = draw(elman(steps=2).loss, show=("op", "site", "scope")).source
    line = re.search(r"^\s*op_0_matmul \[(.*)\]$", source, re.M).group(1)
    assert "x1 @ W_xh" in line and "conftest.py:" in line and "rnn/cell[t=1]" in line
    assert "|grad|" not in line and "(1, 4)" not in line


def test_bidirectional_two_layer_layer_draws_a_cluster_per_direction_and_step():
    import tapegrad.nn as nn
    tg.manual_seed(0)
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    out, _ = gru(tg.randn(3, 1, 3))
    source = draw((out[-1] ** 2).sum()).source
    assert len(step_clusters(source)) == 12
    assert "cluster_gru_l1_reverse_t_3" in clusters(source)
    assert "rail_weight_hh_l1_reverse_sum" in node_ids(source)


def test_batched_products_are_drawn_as_each_steps_rows():
    loss, _ = build("elman", 4)
    d = draw(loss)
    for t in range(1, 5):       # the input projection and the read-out, in every step
        assert f"rows_1_t{t}" in node_ids(d.source) and f"rows t={t} of #1" in d.source
        assert f"input_in0_t{t}" in node_ids(d.source)
    heads = [n for n in d.uses("head.weight")]
    assert len(heads) == 4 and all(n.startswith("rows_") for n in heads)
    assert not re.search(r"^\s*op_\d+_(unbind|stack|reshape) \[", d.source, re.M)


def test_cli_titles_and_forget_bias_reach_the_legend(tmp_path):
    from tapegrad.viz.cli import main
    out = tmp_path / "g.dot"
    assert main(["--model", "lstm", "--steps", "3", "--forget-bias", "1", "--out",
                 str(out)]) == 0
    assert "LSTM, T=3, H=4, forget_bias=1" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("view", ["unrolled", "rolled", "tape"])
def test_every_view_shows_its_colour_scale_in_the_legend(elman, view):
    source = draw(elman(steps=3).loss, view=view).source
    legend = source.split("\n", 2)[1]               # the graph attributes line
    assert "one log scale" in legend and legend.count('FIXEDSIZE="TRUE"') == 11
    assert "exactly 0" in legend and "NaN/Inf" in legend
    plain = draw(elman(steps=3).loss, view=view, color_by=None).source
    if view == "rolled":            # the strips are the data: they keep their colours
        assert "one log scale" in plain
    else:
        assert "one log scale" not in plain
