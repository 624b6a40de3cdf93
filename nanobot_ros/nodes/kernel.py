"""kernel: the exported policy served by ONNX Runtime at the lowest latency this CPU allows.

Topics, safe-stop rules and hot reload: see `nodes/action_server.py`. The model is an export of
`nanobot export` (`.onnx` with its config in metadata_props). Thread parameters default to one
intra-op and one inter-op thread without spinning, so the kernel does not steal the CPU other
nodes (camera, recorder, trainer) need; raise them on a machine with cores to spare.
"""
from nanobot_ros.policy.onnx_runtime import OnnxPolicy
from nanobot_ros.policy.serving_config import OnnxServingConfig
from nanobot_ros.policy.text_encoder import OnnxTextEncoder
from nanobot_ros.nodes.action_server import ActionServerNode, DESCRIPTIONS
from nanobot_ros.nodes.common import run


class KernelNode(ActionServerNode):
    """ActionServerNode over an ONNX Runtime session."""

    def __init__(self):
        super().__init__('kernel', OnnxServingConfig, {
            'intra_op_num_threads': 'ONNX Runtime threads inside one operator',
            'inter_op_num_threads': 'ONNX Runtime threads across operators',
            'allow_spinning': 'let idle ONNX Runtime threads spin (faster wake-up, burns CPU)',
            'model_path': DESCRIPTIONS['model_path']})

    def load_model(self, path: str):
        """Load an export into a new ONNX Runtime session."""
        threads = self.settings
        return OnnxPolicy(path, threads.intra_op_num_threads, threads.inter_op_num_threads,
                          threads.allow_spinning, seed=self.seed, temperature=self.temperature)

    def status(self):
        """Report as the action server does, and the MiniLM text encoders built.

        One per version of the encoder's files, not one per export
        (text_encoder.shared_text_encoder).
        """
        level, message, values = super().status()
        values['text_encoder_loads'] = OnnxTextEncoder.loads
        return level, message, values


def main(args=None):
    """Run the kernel node."""
    raise SystemExit(run(KernelNode, args))


if __name__ == '__main__':
    main()
