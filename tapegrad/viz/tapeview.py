def render(graph, opts):
    raise NotImplementedError
