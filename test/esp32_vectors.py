"""The shared protocol test vectors (firmware/test_vectors.txt), read for the Python tests."""
from pathlib import Path

VECTORS = Path(__file__).resolve().parents[1] / 'firmware' / 'test_vectors.txt'


def unhex(text: str) -> bytes:
    return b'' if text == '-' else bytes.fromhex(text)


def load_vectors():
    """Return {kind: [fields]} from the vectors file; each fields list is the line's words."""
    vectors = {}
    for line in VECTORS.read_text().splitlines():
        if line and not line.startswith('#'):
            kind, *fields = line.split()
            vectors.setdefault(kind, []).append(fields)
    return vectors
