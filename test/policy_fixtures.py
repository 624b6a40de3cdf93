"""Tiny policies and exports for the policy, export, trainer and kernel tests; toy GRPO runs."""
from pathlib import Path
import sys

import torch

from nanobot_ros.policy.export import export_policy
from nanobot_ros.policy.grpo import GRPOConfig
from nanobot_ros.policy.modeling import Policy, PolicyConfig
from nanobot_ros.policy.weights import save_policy
from nanobot_ros.robots.sim.task_family import TaskFamilyConfig

# One marker on a 3 x 3 torus (at most two moves away), three steps: multi-step episodes whose
# lengths differ (a success ends at the marker, a failure uses the whole budget).
TOY = TaskFamilyConfig(img_size=24, colors=('red', 'green'), min_markers=1, max_markers=1,
                       two_step=0.0, step_budget=3)


def tiny_config(**overrides) -> PolicyConfig:
    """Return a policy config small enough for a unit test (one layer, 16 px images)."""
    values = dict(n_layer=1, n_head=2, n_embd=16, max_text_len=8, image_size=16, patch_size=8,
                  vision_embd=16, robotics_diffusion_steps=8, diffusion_hidden=16)
    values.update(overrides)
    return PolicyConfig(**values)


def tiny_policy(seed: int = 0, **overrides) -> Policy:
    """Return a randomly initialised tiny policy with action bounds [-1, 1]."""
    torch.manual_seed(seed)
    return Policy(tiny_config(**overrides)).eval()


def perturbed(policy: Policy, seed: int) -> Policy:
    """Add noise to every parameter, so no layer stays at its initial zeros (FiLM, the head)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in policy.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
    return policy


def tempered_softmax(policy: Policy, obs: dict, temperature: float):
    """Return PyTorch's action probabilities (n_actions,) for `obs` at `temperature`."""
    from nanobot_ros.policy.processing import processor_for
    inputs = processor_for(policy.config).preprocess([obs])
    with torch.no_grad():
        logits = policy.action_logits(torch.from_numpy(inputs['images']),
                                      torch.from_numpy(inputs['text']))[0]
    return torch.softmax(logits / temperature, 0).numpy()


def tiny_categorical(task) -> Policy:
    """Return a perturbed tiny categorical policy over the actions of task config `task`."""
    from nanobot_ros.robots.tasks import task_actions
    vectors = task_actions(task)[2]
    return perturbed(Policy(tiny_config(head='categorical', robotics_action_dim=len(vectors[0]),
                                        n_actions=len(vectors)),
                            vectors), seed=3).eval()


def tiny_export(folder: Path, name: str = 'policy.onnx', **overrides) -> Path:
    """Export a tiny diffusion policy (DDIM 4 steps) into `folder`; return the ONNX path."""
    overrides.setdefault('head', 'diffusion')
    return export_policy(tiny_policy(**overrides), Path(folder) / name, 'ddim', 4)


def staying_clone(path: Path, stay_bias: float) -> Policy:
    """Save at `path` and return a tiny categorical clone leaning to 'stay' by `stay_bias`.

    A poor start for GRPO: 'stay' never reaches a marker, so episodes fail and differ in length.
    """
    policy = tiny_policy(head='categorical', image_size=24, max_text_len=24)
    with torch.no_grad():
        policy.head[-1].bias[0] = stay_bias
    save_policy(path, policy)
    return policy


def toy_config(tmp_path, **overrides) -> GRPOConfig:
    """Return a GRPO config on TOY from a tiny clone that mostly stays (saved in tmp_path)."""
    staying_clone(tmp_path / 'bc.safetensors', 2.0)
    values = dict(init=str(tmp_path / 'bc.safetensors'), run_dir=str(tmp_path / 'grpo'),
                  task=TOY, start_states=16, group_size=8, lr=3e-3, minibatches=2,
                  kl_coef=0.05, step_cost=0.02, max_iterations=4, checkpoint_every=2,
                  wandb=False, progress=False)
    values.update(overrides)
    return GRPOConfig(**values)


TORCHRUN_2 = (sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node',
              '2')  # two CPU processes, gloo


def grpo_command(init, run_dir, launcher=(), *options) -> list:
    """`nanobot grpo` on the 'targets' task (5 x 5 cells, 12 steps): 2 iterations of 4 groups.

    `options`: more (or, later on the line, overriding) command-line options.
    """
    return [*launcher, *([] if launcher else [sys.executable]), '-m', 'nanobot_ros.cli', 'grpo',
            str(init), '--run-dir', str(run_dir), '--task', 'targets', '--start-states', '4',
            '--group-size', '4', '--minibatches', '2', '--max-iterations', '2', '--lr', '3e-3',
            '--kl-coef', '0.05', '--no-wandb', '--no-progress', *options]
