"""Reading the DOT text the renderer writes (its own regular layout, not DOT in general)."""
import re

_ID = r'(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*")'
NODE = re.compile(rf"^\s*({_ID}) \[")
EDGE = re.compile(rf"^\s*({_ID}) -> ({_ID})(?: \[(.*)\])?$")
CLUSTER = re.compile(r"^\s*subgraph (cluster_\w+) \{")


def _unquote(name):
    return name[1:-1] if name.startswith('"') else name


def node_ids(source):
    """Ids of node statements (a node may be restated to add attributes: each id once)."""
    ids = []
    for line in source.splitlines():
        m = NODE.match(line)
        if m and m.group(1) not in ("graph", "node", "edge"):
            ids.append(_unquote(m.group(1)))
    return list(dict.fromkeys(ids))


def edges(source, visible_only=True):
    """(tail, head, attribute text) of every edge statement."""
    found = []
    for line in source.splitlines():
        m = EDGE.match(line)
        if m:
            attrs = m.group(3) or ""
            if visible_only and "style=invis" in attrs:
                continue
            found.append((_unquote(m.group(1)), _unquote(m.group(2)), attrs))
    return found


def clusters(source):
    """Cluster names, without the borderless layout bands (``cluster_band_*``)."""
    return [c for c in all_clusters(source) if not c.startswith("cluster_band_")]


def all_clusters(source):
    return [m.group(1) for m in map(CLUSTER.match, source.splitlines()) if m]


def html_labels(source):
    """Every ``<...>`` label, by bracket counting (they nest)."""
    labels = []
    start = 0
    while True:
        i = source.find("label=<", start)
        if i < 0:
            return labels
        j = i + len("label=<")
        depth = 1
        k = j
        while depth:
            if source[k] == "<":
                depth += 1
            elif source[k] == ">":
                depth -= 1
            k += 1
        labels.append(source[j:k - 1])
        start = k
