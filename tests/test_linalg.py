"""tapegrad.linalg beyond the registry's property tests: PyTorch's gradients, the conventions
that make decompositions smooth, the degenerate-eigenvalue caveat and the refused options."""
import numpy
import pytest

import tapegrad as tg

RNG = numpy.random.default_rng(0)
A = RNG.standard_normal((3, 3)) * 0.3 + 2.0 * numpy.eye(3)        # well conditioned
SPD = A @ A.T
TALL = RNG.standard_normal((4, 3)) + numpy.eye(4, 3)


def _leaf(a):
    return tg.tensor(a, requires_grad=True)


# (tapegrad function, torch function, input): a scalar loss of every output, weighted so that
# every output element matters (and sign conventions cancel: U S Vh, Q R, V diag(w) V^T)
CASES = [
    ("inv", lambda m: m.inv(A), A),
    ("det", lambda m: m.det(A), A),
    ("slogdet", lambda m: m.slogdet(A)[1], A),
    ("cholesky", lambda m: m.cholesky(SPD), SPD),
    ("eigvalsh", lambda m: m.eigvalsh(SPD), SPD),
    ("svdvals", lambda m: m.svdvals(TALL), TALL),
    ("pinv", lambda m: m.pinv(TALL), TALL),
    ("solve", lambda m: m.solve(A, TALL[:3]), A),
]


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_gradients_match_pytorch(name):
    torch = pytest.importorskip("torch")
    _, fn, a = next(c for c in CASES if c[0] == name)
    weights = RNG.standard_normal(numpy.shape(fn(numpy.linalg)))
    x = _leaf(a)
    (g,) = tg.grad((fn(_Swap(tg.linalg, x, a, tg.tensor)) * weights).sum(), [x])
    t = torch.tensor(a, requires_grad=True)
    (tg_torch,) = torch.autograd.grad((fn(_Swap(torch.linalg, t, a, torch.tensor))
                                       * torch.tensor(weights)).sum(), [t])
    numpy.testing.assert_allclose(g.numpy(), tg_torch.numpy(), rtol=1e-9, atol=1e-12)


class _Swap:
    """A linalg module whose functions see ``x`` wherever the case passes the array ``a``
    (and constants made by ``make`` for the other arrays)."""

    def __init__(self, module, x, a, make):
        self.module, self.x, self.a, self.make = module, x, a, make

    def __getattr__(self, name):
        fn = getattr(self.module, name)
        return lambda *args: fn(*(self.x if arg is self.a else self.make(arg) for arg in args))


def test_decompositions_reconstruct_their_input_with_smooth_sign_choices():
    u, s, vh = tg.linalg.svd(tg.tensor(TALL))
    numpy.testing.assert_allclose((u.numpy() * s.numpy()) @ vh.numpy(), TALL, atol=1e-12)
    assert (numpy.abs(u.numpy()).argmax(0) == u.numpy().argmax(0)).all()   # largest entry > 0
    q, r = tg.linalg.qr(tg.tensor(TALL))
    numpy.testing.assert_allclose(q.numpy() @ r.numpy(), TALL, atol=1e-12)
    assert (numpy.diag(r.numpy()) >= 0).all()
    w, v = tg.linalg.eigh(tg.tensor(SPD))
    numpy.testing.assert_allclose((v.numpy() * w.numpy()) @ v.numpy().T, SPD, atol=1e-12)
    sign, logabs = tg.linalg.slogdet(tg.tensor(-A))
    assert sign.item() == numpy.sign(numpy.linalg.det(-A))


def test_batches_of_matrices():
    batch = numpy.stack([A, 2 * A])
    x = _leaf(batch)
    d = tg.linalg.det(x)
    numpy.testing.assert_allclose(d.numpy(), numpy.linalg.det(batch))
    (g,) = tg.grad(d.sum(), [x])
    numpy.testing.assert_allclose(g.numpy(), numpy.linalg.det(batch)[:, None, None]
                                  * numpy.linalg.inv(batch).transpose(0, 2, 1))


def test_eigenvalues_differentiate_at_a_repeated_eigenvalue_but_vectors_do_not():
    x = _leaf(numpy.eye(3))
    (g,) = tg.grad(tg.linalg.eigvalsh(x).sum(), [x])          # the trace: gradient I
    numpy.testing.assert_allclose(g.numpy(), numpy.eye(3))
    with numpy.errstate(divide="ignore", invalid="ignore"):
        (g,) = tg.grad(tg.linalg.eigh(x).eigenvectors[0, 0], [x])
    assert not numpy.isfinite(g.numpy()).all()                   # the documented caveat


def test_refused_options_name_the_fix():
    with pytest.raises(tg.OpError, match="linalg.svd: full_matrices=True is not supported"):
        tg.linalg.svd(tg.tensor(A), full_matrices=True)
    with pytest.raises(tg.OpError, match="linalg.qr: mode 'complete' is not supported"):
        tg.linalg.qr(tg.tensor(A), mode="complete")
    with pytest.raises(tg.OpError, match="matrix_norm: ord 3 is not one of"):
        tg.linalg.matrix_norm(tg.tensor(A), 3)
    wide = _leaf(TALL.T)
    with pytest.raises(tg.OpError, match=r"linalg.qr: the gradient needs a tall or square"):
        tg.grad(tg.linalg.qr(wide).R.sum(), [wide])
    with pytest.raises(tg.OpError, match="einsum: an index repeats within one operand"):
        tg.einsum("ii->i", tg.tensor(A))


def test_norms_match_numpy():
    x = tg.tensor(TALL)
    for ord_ in (None, "fro", "nuc", 1, -1, 2, -2, numpy.inf, -numpy.inf):
        numpy.testing.assert_allclose(tg.linalg.norm(x, ord_).numpy(),
                                      numpy.linalg.norm(TALL, ord_), rtol=1e-12)
    v = tg.tensor(TALL[:, 0])
    for ord_ in (1, 2, 3, numpy.inf, -numpy.inf, 0):
        numpy.testing.assert_allclose(tg.linalg.vector_norm(v, ord_).numpy(),
                                      numpy.linalg.norm(TALL[:, 0], ord_), rtol=1e-12)
    numpy.testing.assert_allclose(tg.dist(x, tg.tensor(A[:1]), 1).numpy(),
                                  numpy.abs(TALL - A[:1]).sum())
