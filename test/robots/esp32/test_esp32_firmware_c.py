"""The firmware's C header passes the same vectors as the Python implementation."""
import shutil
import subprocess

import pytest

from esp32_vectors import VECTORS
from repo_paths import ROOT

FIRMWARE = ROOT / 'firmware'


def test_c_header_passes_the_shared_vectors(tmp_path):
    compiler = shutil.which('cc') or shutil.which('gcc') or shutil.which('clang')
    if compiler is None:
        pytest.skip('no C compiler (cc, gcc or clang) on PATH: cannot build the firmware test')
    binary = tmp_path / 'test_protocol'
    build = subprocess.run(
        [compiler, '-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-O2',
         str(FIRMWARE / 'test_protocol.c'), '-o', str(binary)],
        capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(binary), str(VECTORS)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    vectors = sum(1 for line in VECTORS.read_text().splitlines()
                  if line and not line.startswith('#'))
    checked = int(run.stdout.split()[-5])
    assert checked >= vectors, run.stdout
    assert run.stdout.strip().endswith('0 failed')
