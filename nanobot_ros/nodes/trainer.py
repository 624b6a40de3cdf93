"""trainer: continual policy training from a folder of bags that keeps growing, with exports.

No topics in or out besides /diagnostics: the trainer reads the recorder's finished bag splits
under `data_dir` (searched recursively; new splits join the next epoch), trains the policy
(`policy/training.py`) in a background thread, checkpoints to
`<run_dir>/policy/policy.safetensors` (resumes from it after a crash) and after every
`export_every` epochs writes an ONNX export to `export_path` atomically, which a running kernel
node hot-swaps. Status: epoch, step, last epoch loss, samples, exports, and what it waits for.

Bad input: unreadable bags are skipped and listed in the status; a checkpoint of another
config stops the node at start with the differing keys (exit code 2).
"""
from pathlib import Path
import threading

import torch

from nanobot_ros.learning.plateau import PlateauConfig
from nanobot_ros.policy.export import export_policy
from nanobot_ros.policy.training import PolicyTrainer, TrainerConfig
from nanobot_ros.policy.modeling import PolicyConfig
from nanobot_ros.nodes.common import ERROR, NanobotNode, OK, run, WARN


class TrainerNode(NanobotNode):
    """Runs a continual PolicyTrainer beside the robot and exports what it learned."""

    def __init__(self):
        super().__init__('trainer')
        data_dir = self.param('data_dir', 'saved/sessions', 'bags to learn from (recursive)')
        run_dir = Path(self.param('run_dir', 'runs/trainer', 'run folder of the stack'))
        self.export_path = Path(self.param('export_path', 'exports/policy.onnx',
                                           'ONNX export the kernel watches'))
        self.export_every = int(self.param('export_every', 5, 'export after this many epochs'))
        self.sampler = self.param('sampler', 'ddim', 'exported sampler: ddim or ddpm')
        self.ddim_steps = int(self.param('ddim_steps', 10, 'DDIM steps in the export'))
        diffusion = bool(self.param('diffusion', True, 'diffusion head (else regression)'))
        batch_size = int(self.param('batch_size', 64, 'samples per step'))
        lr = float(self.param('lr', 2e-3, 'AdamW learning rate'))
        threads = int(self.param('torch_threads', 1, 'torch threads (leave cores to the robot)'))
        if self.export_every < 1 or batch_size < 1 or lr <= 0:
            raise ValueError('export_every and batch_size must be >= 1 and lr > 0')
        if self.sampler not in ('ddim', 'ddpm'):
            raise ValueError(f'sampler must be ddim or ddpm, got {self.sampler!r}')
        if not Path(data_dir).exists():
            Path(data_dir).mkdir(parents=True)
        torch.set_num_threads(max(1, threads))
        config = TrainerConfig(
            data=[data_dir], run_dir=str(run_dir / 'policy'),
            policy=PolicyConfig(robotics_use_diffusion=diffusion), batch_size=batch_size, lr=lr,
            continual=True, idle_timeout=None, wandb=False, progress=False,
            plateau=PlateauConfig(patience=8, min_delta=1e-3, min_epochs=20, max_epochs=10**6))
        self.trainer = PolicyTrainer(config)
        self.trainer.on_epoch_end = self._maybe_export
        self.exports = 0
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
        export_policy(trainer.policy, self.export_path, self.sampler, self.ddim_steps,
                      extra={'epoch': trainer.epoch, 'step': trainer.step})
        self.exports += 1
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
        values = {'epoch': t.epoch, 'step': t.step, 'samples': len(t.buffer),
                  'loss': t.epoch_losses[-1] if t.epoch_losses else None,
                  'exports': self.exports, 'skipped_bags': len(t.source.skipped),
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
