"""The four sequence shapes, each trained briefly on a tiny task (plain SGD written out)."""
import numpy

import tapegrad.nn as nn
import tapegrad.nn.functional as F
import tapegrad as tg


def sgd(model, lr):
    with tg.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
    model.zero_grad()


def test_many_to_one_sequence_classification():
    """Read a whole sequence, classify from the final hidden state h_T: is its sum positive?"""
    tg.manual_seed(0)
    rng = numpy.random.default_rng(0)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(1, 8)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            _, (h_n, _) = self.lstm(x)
            return self.head(h_n[-1])                  # (B, 2) from the last layer's h_T

    model = Classifier()
    x = rng.standard_normal((6, 32, 1)).astype(numpy.float32)
    y = (x.sum(axis=(0, 2)) > 0).astype(numpy.int64)
    for _ in range(150):
        loss = F.cross_entropy(model(tg.tensor(x)), y)
        loss.backward()
        sgd(model, 0.5)
    accuracy = (model(tg.tensor(x)).numpy().argmax(1) == y).mean()
    assert accuracy >= 0.9


def test_many_to_many_next_character():
    """Predict the next character at every step (a char-RNN on a repeating string)."""
    tg.manual_seed(0)
    text = "abcabdabcabd" * 2
    vocab = sorted(set(text))
    ids = numpy.array([vocab.index(c) for c in text])
    x, y = ids[:-1].reshape(-1, 1), ids[1:].reshape(-1, 1)     # (T, B=1)

    class CharRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(len(vocab), 8)
            self.gru = nn.GRU(8, 16)
            self.head = nn.Linear(16, len(vocab))

        def forward(self, ids):
            out, _ = self.gru(self.embed(ids))
            return self.head(out)                      # (T, B, V): a prediction per step

    model = CharRNN()
    first = None
    for _ in range(120):
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
        first = loss.item() if first is None else first
        loss.backward()
        sgd(model, 0.3)
    pred = model(x).numpy().argmax(-1)
    # after "ab" the next letter is ambiguous (c or d) unless the net remembers 3 back
    assert loss.item() < 0.5 * first
    assert (pred[2:] == y[2:]).mean() > 0.8


def test_one_to_many_generation_from_a_seed_vector():
    """A seed vector sets the initial state; the cell then generates, feeding each sample back."""
    tg.manual_seed(0)
    targets = numpy.array([[1, 2, 3, 0], [3, 1, 1, 2]])        # one sequence per seed
    seeds = numpy.eye(2, dtype=numpy.float32)

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.init_state = nn.Linear(2, 16)
            self.embed = nn.Embedding(5, 6)               # token 4 is "start"
            self.cell = nn.GRUCell(6, 16)
            self.head = nn.Linear(16, 4)

        def forward(self, seed, feed):
            """Logits for every step; ``feed(t, logits)`` gives the next input token ids."""
            h = tg.tanh(self.init_state(seed))
            token = numpy.full(seed.shape[0], 4)
            outs = []
            for t in range(targets.shape[1]):
                with tg.scope("t", step=t + 1):
                    h = self.cell(self.embed(token), h)
                    logits = self.head(h)
                outs.append(logits)
                token = feed(t, logits)
            return tg.stack(outs)                          # (T, B, 4)

    model = Generator()
    teacher = lambda t, logits: targets[:, t]             # noqa: E731  training: feed the truth
    for _ in range(150):
        logits = model(tg.tensor(seeds), teacher)
        loss = F.cross_entropy(logits.reshape(-1, 4), targets.T.reshape(-1))
        loss.backward()
        sgd(model, 0.5)
    with tg.no_grad():                                     # generation: feed back its own samples
        generated = model(tg.tensor(seeds), lambda t, logits: logits.numpy().argmax(1))
    numpy.testing.assert_array_equal(generated.numpy().argmax(-1).T, targets)


def test_encoder_decoder_different_lengths():
    """Encode a length-5 sequence into h_T; decode a length-3 sequence (its first three
    tokens in reverse) with teacher forcing."""
    tg.manual_seed(0)
    rng = numpy.random.default_rng(1)
    src = rng.integers(0, 4, size=(5, 16))                 # (T_in=5, B)
    tgt = src[:3][::-1]                                     # (T_out=3, B)
    start = numpy.full((1, 16), 4)
    dec_in = numpy.concatenate([start, tgt[:-1]])           # shifted right

    class Seq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(5, 8)
            self.encoder = nn.GRU(8, 32)
            self.decoder = nn.GRU(8, 32)
            self.head = nn.Linear(32, 4)

        def forward(self, src, dec_in):
            _, h = self.encoder(self.embed(src))
            out, _ = self.decoder(self.embed(dec_in), h)  # decoder starts from the encoding
            return self.head(out)

    model = Seq2Seq()
    for _ in range(200):
        logits = model(src, dec_in)
        assert logits.shape == (3, 16, 4)
        loss = F.cross_entropy(logits.reshape(-1, 4), tgt.reshape(-1))
        loss.backward()
        sgd(model, 0.5)
    accuracy = (model(src, dec_in).numpy().argmax(-1) == tgt).mean()
    assert accuracy >= 0.9
