"""kernel: the exported policy served by ONNX Runtime at the lowest latency this CPU allows.

Topics, safe-stop rules and hot reload: see `nodes/action_server.py`. The model is an export of
`nanobot export` (`.onnx` with its config in metadata_props). Thread parameters default to one
intra-op and one inter-op thread without spinning, so the kernel does not steal the CPU other
nodes (camera, recorder, trainer) need; raise them on a machine with cores to spare.
"""
from nanobot_ros.policy.onnx_runtime import OnnxPolicy
from nanobot_ros.nodes.action_server import ActionServerNode
from nanobot_ros.nodes.common import run


class KernelNode(ActionServerNode):
    """ActionServerNode over an ONNX Runtime session."""

    default_model_path = 'exports/policy.onnx'

    def __init__(self):
        super().__init__('kernel')

    def _threads(self):
        # Declared on first use: the base class constructor already loads the model.
        if not self.has_parameter('intra_op_num_threads'):
            self.param('intra_op_num_threads', 1, 'ONNX Runtime threads inside one operator')
            self.param('inter_op_num_threads', 1, 'ONNX Runtime threads across operators')
            self.param('allow_spinning', False,
                       'let idle ONNX Runtime threads spin (faster wake-up, burns CPU)')
        value = self.get_parameter
        intra, inter = value('intra_op_num_threads').value, value('inter_op_num_threads').value
        if intra < 1 or inter < 1:
            raise ValueError(f'thread counts must be >= 1, got intra {intra}, inter {inter}')
        return intra, inter, bool(value('allow_spinning').value)

    def load_model(self, path: str):
        """Load an export into a new ONNX Runtime session."""
        intra, inter, spinning = self._threads()
        return OnnxPolicy(path, intra, inter, spinning, seed=self.seed)


def main(args=None):
    """Run the kernel node."""
    raise SystemExit(run(KernelNode, args))


if __name__ == '__main__':
    main()
