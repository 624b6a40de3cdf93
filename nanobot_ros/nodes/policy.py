"""policy: the same policy in PyTorch eager, for comparison and machines without ONNX Runtime.

Topics, safe-stop rules and hot reload: see `nodes/action_server.py`. The model is a trainer
checkpoint or the `.safetensors` written beside an export; its metadata rebuilds the network.
"""
import torch

from nanobot_ros.policy.weights import load_policy
from nanobot_ros.policy.runner import PolicyRunner
from nanobot_ros.nodes.action_server import ActionServerNode
from nanobot_ros.nodes.common import run


class PolicyNode(ActionServerNode):
    """ActionServerNode over a PyTorch policy."""

    default_model_path = 'exports/policy.safetensors'

    def __init__(self):
        super().__init__('policy')

    def load_model(self, path: str):
        """Rebuild the policy from a safetensors file (config from its metadata)."""
        if not self.has_parameter('sampler'):
            self.param('sampler', 'ddim', 'diffusion sampler: ddim or ddpm')
            self.param('ddim_steps', 10, 'DDIM steps')
            self.param('torch_threads', 1, 'torch intra-op threads')
        torch.set_num_threads(max(1, self.get_parameter('torch_threads').value))
        try:
            policy, _ = load_policy(path)
        except FileNotFoundError as error:
            raise OSError(str(error)) from None
        runner = PolicyRunner(policy, self.get_parameter('sampler').value,
                              self.get_parameter('ddim_steps').value, self.seed)
        runner.description = f'{path} (PyTorch eager)'
        return runner


def main(args=None):
    """Run the policy node."""
    raise SystemExit(run(PolicyNode, args))


if __name__ == '__main__':
    main()
