"""policy: the same policy in PyTorch eager, for comparison and machines without ONNX Runtime.

Topics, safe-stop rules and hot reload: see `nodes/action_server.py`. The model is a trainer
checkpoint or the `.safetensors` written beside an export; its metadata rebuilds the network.
"""
import torch

from nanobot_ros.policy.eager_runtime import EagerPolicy
from nanobot_ros.policy.serving_config import EagerServingConfig
from nanobot_ros.policy.weights import load_policy
from nanobot_ros.nodes.action_server import ActionServerNode, DESCRIPTIONS
from nanobot_ros.nodes.common import run


class PolicyNode(ActionServerNode):
    """ActionServerNode over a PyTorch policy."""

    def __init__(self):
        super().__init__('policy', EagerServingConfig, {
            'sampler': 'diffusion sampler: ddim or ddpm', 'ddim_steps': 'DDIM steps',
            'torch_threads': 'torch intra-op threads', 'model_path': DESCRIPTIONS['model_path']})

    def load_model(self, path: str):
        """Rebuild the policy from a safetensors file (config from its metadata)."""
        torch.set_num_threads(max(1, self.settings.torch_threads))
        try:
            policy, _ = load_policy(path)
        except FileNotFoundError as error:
            raise OSError(str(error)) from None
        model = EagerPolicy(policy, self.settings.sampler, self.settings.ddim_steps, self.seed,
                            temperature=self.temperature)
        model.description = f'{path} (PyTorch eager)'
        return model


def main(args=None):
    """Run the policy node."""
    raise SystemExit(run(PolicyNode, args))


if __name__ == '__main__':
    main()
