"""Stacks run without the Rust kernel (no cargo, no libclang, or a failed build).

`./run.sh sim` needs neither cargo nor a built kernel, and a stack asking for it (`impl: rust`)
runs the Python kernel instead, saying so in its status.
"""
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys

import yaml

from nanobot_ros.stack_config import executable_path
from policy_fixtures import tiny_export
from repo_paths import ROOT


def _path_without_cargo() -> str:
    """PATH minus every folder that holds a cargo executable."""
    folders = os.environ['PATH'].split(os.pathsep)
    kept = [f for f in folders if not os.access(os.path.join(f, 'cargo'), os.X_OK)]
    assert shutil.which('cargo', path=os.pathsep.join(kept)) is None
    return os.pathsep.join(kept)


def _run(command, tmp_path, **env):
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=ROOT,
                            env={**os.environ, **env})
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path / 'runs'
    return result, json.loads((run_dir / 'summary.json').read_text())


def test_run_sh_sim_starts_without_cargo_or_a_built_kernel(ros_domain, tmp_path):
    # An empty cargo target folder: no kernel was ever built, and nothing could build one.
    target = tmp_path / 'target'
    target.mkdir()
    result, summary = _run(
        # Long enough for the world model to import torch and answer on a busy machine.
        ['bash', str(ROOT / 'run.sh'), 'sim', '--duration', '30', '--runs', str(tmp_path / 'runs'),
         '--set', 'foxglove.port=0', '--set', f'world_model.checkpoint_dir={tmp_path}',
         '--set', "world_model.wandb_project=''"],
        tmp_path, PATH=_path_without_cargo(), CARGO_TARGET_DIR=str(target))
    assert 'Rust kernel' not in result.stderr and 'cargo' not in result.stderr
    assert list(target.iterdir()) == []
    assert {name: node['status'] for name, node in summary['nodes'].items()} == {
        'recorder': 'ok', 'foxglove': 'ok', 'sim': 'ok', 'world_model': 'ok'}
    assert summary['warnings'] == []
    # Frames flowed: the sim published them, the stack's monitor received them, the world
    # model answered them and the recorder wrote them.
    assert summary['frames'] >= 15 and summary['actions'] > 0, summary
    assert summary['observed']['frames'] > 0, summary
    assert summary['messages_written'] > 0, summary


def test_a_rust_kernel_stack_runs_the_python_kernel_when_it_is_not_built(ros_domain, tmp_path):
    # A nanobot_ros install exactly like this one's but without nanobot_kernel, first on
    # AMENT_PREFIX_PATH: what a machine that could not build the kernel has.
    prefix = tmp_path / 'prefix'
    index = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages'
    index.mkdir(parents=True)
    (index / 'nanobot_ros').touch()
    executables = prefix / 'lib' / 'nanobot_ros'
    executables.mkdir(parents=True)
    for installed in executable_path('sim').parent.iterdir():
        if installed.name != 'nanobot_kernel':
            (executables / installed.name).symlink_to(installed.resolve())
    model = tiny_export(tmp_path)
    # config/policy.yaml (the sim's target task, the Rust kernel) serving a tiny export.
    stack = yaml.safe_load((ROOT / 'config' / 'policy.yaml').read_text())
    assert stack['kernel']['ros__parameters']['impl'] == 'rust'
    stack['kernel']['ros__parameters']['model_path'] = str(model)
    config = tmp_path / 'policy.yaml'
    config.write_text(yaml.safe_dump(stack))
    result, summary = _run(
        [sys.executable, '-m', 'nanobot_ros.stack', '--config', str(config), '--duration', '4',
         '--runs', str(tmp_path / 'runs')],
        tmp_path, AMENT_PREFIX_PATH=f'{prefix}{os.pathsep}{os.environ["AMENT_PREFIX_PATH"]}')
    warning = ('kernel: nanobot_kernel (impl: rust) is not built, running the Python kernel '
               'instead; ./run.sh kernel-build says why (docs/kernel.md)')
    assert summary['warnings'] == [warning]
    assert result.stderr.count(f'[stack] warning: {warning}') == 2  # at the start and the end
    assert f'Warning: {warning}' in (Path(summary['run_dir']) / 'report.md').read_text()
    # The Python kernel (ONNX Runtime) served the export and answered the sim's frames.
    kernel = summary['nodes']['kernel']
    assert kernel['status'] == 'ok', kernel
    assert kernel['values']['model'] == str(model) and kernel['values']['answered'] > 0, kernel
    assert summary['frames'] > 0 and summary['actions'] > 0, summary
