"""trainer: continual policy training from a folder of bags that keeps growing, with exports.

No topics in or out besides /diagnostics: the trainer reads the recorder's finished bag splits
under `data_dir` (searched recursively; new splits join the next epoch), trains the policy
(`policy/training.py`) in a background thread, checkpoints to
`<run_dir>/policy/policy.safetensors` (resumes from it after a crash) and after every
`export_every` epochs writes an ONNX export to `export_path` atomically, which a running kernel
node hot-swaps. Status: epoch, step, last epoch loss, samples, exports, when the first samples
came (`first_data_s`), the time spent exporting, and what it waits for. Where a bag holds a
teacher's labels (teacher/action, the learn stack) it learns those, not the actions executed.

Bad input: unreadable bags are skipped and listed in the status; a checkpoint of another
config stops the node at start with the differing keys (exit code 2).
"""
from pathlib import Path
import threading
import time

import torch

from nanobot_ros.policy.trainer_config import ContinualConfig
from nanobot_ros.policy.export import export_policy
from nanobot_ros.policy.training import PolicyTrainer
from nanobot_ros.nodes.common import ERROR, NanobotNode, OK, run, WARN

DESCRIPTIONS = {
    'data_dir': 'bags to learn from (recursive)',
    'run_dir': 'run folder of the stack',
    'export_path': 'ONNX export the kernel watches',
    'export_every': 'export after this many epochs',
    'sampler': 'exported sampler: ddim or ddpm',
    'ddim_steps': 'DDIM steps in the export',
    'head': 'action head: regression, diffusion or categorical',
    'policy': 'other PolicyConfig fields, a JSON object (e.g. {"image_size": 64}); "" = defaults',
    'task': 'task whose robot\'s actions a categorical head indexes (room: the JetBot\'s); '
            '"" = the sim\'s',
    'encoder_from': 'world model checkpoint whose encoder starts the vision encoder ("" = none)',
    'freeze_encoder': 'keep that vision encoder fixed',
    'batch_size': 'samples per step',
    'lr': 'AdamW learning rate',
    'torch_threads': 'torch threads (leave cores to the robot)',
}


class TrainerNode(NanobotNode):
    """Runs a continual PolicyTrainer beside the robot and exports what it learned."""

    summary_figures = ('step', 'loss', 'samples', 'exports', 'first_data_s', 'export_s')

    def __init__(self):
        super().__init__('trainer')
        settings = ContinualConfig(**self.declare_config(ContinualConfig, DESCRIPTIONS))
        settings.validate()
        self.export_path = Path(settings.export_path)
        self.export_every, self.sampler = settings.export_every, settings.sampler
        self.ddim_steps = settings.ddim_steps
        self.action_names = settings.action_names()
        data_dir = settings.data_dir
        if not Path(data_dir).exists():
            Path(data_dir).mkdir(parents=True)
        torch.set_num_threads(max(1, settings.torch_threads))
        config = settings.trainer_config()
        self.trainer = PolicyTrainer(config)
        self.trainer.on_epoch_end = self._maybe_export
        self.exports = 0
        self.started = time.monotonic()
        self.first_data_s = None  # when the first closed split's samples arrived
        self.export_s = 0.0  # time spent exporting
        self.error = ''
        self.thread = threading.Thread(target=self._train, daemon=True)
        self.thread.start()
        self.get_logger().info(f'training continually from {data_dir}; exports to '
                               f'{self.export_path} every {self.export_every} epochs')

    def _train(self) -> None:
        try:
            self.trainer.run()
        except Exception as error:  # reported in the status instead of dying silently
            self.error = f'{type(error).__name__}: {error}'
            self.get_logger().error(f'training stopped: {self.error}')

    def _maybe_export(self, trainer: PolicyTrainer) -> None:
        if trainer.epoch % self.export_every:
            return
        start = time.monotonic()
        export_policy(trainer.policy, self.export_path, self.sampler, self.ddim_steps,
                      action_names=self.action_names,
                      extra={'epoch': trainer.epoch, 'step': trainer.step})
        self.exports += 1
        self.export_s += time.monotonic() - start
        self.get_logger().info(f'exported epoch {trainer.epoch} (loss '
                               f'{trainer.epoch_losses[-1]:.4g}) to {self.export_path}')

    def on_shutdown(self) -> None:
        """Finish the current batch, checkpoint, then report."""
        self.trainer.stop()
        self.thread.join(timeout=30)
        super().on_shutdown()

    def status(self):
        """Report the training progress."""
        t = self.trainer
        if self.first_data_s is None and len(t.buffer):
            self.first_data_s = round(time.monotonic() - self.started, 3)
        values = {'epoch': t.epoch, 'step': t.step, 'samples': len(t.buffer),
                  'loss': t.epoch_losses[-1] if t.epoch_losses else None,
                  'exports': self.exports, 'first_data_s': self.first_data_s,
                  'export_s': round(self.export_s, 3), 'skipped_bags': len(t.source.skipped),
                  'state': t.status}
        if self.error:
            return ERROR, self.error, values
        if not len(t.buffer):
            return WARN, 'waiting for demonstrations', values
        return OK, t.status, values


def main(args=None):
    """Run the trainer node."""
    raise SystemExit(run(TrainerNode, args))


if __name__ == '__main__':
    main()
