"""Where the tests find the repository: one home, whatever folder a test sits in."""
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
