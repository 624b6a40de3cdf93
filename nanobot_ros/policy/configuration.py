"""PolicyConfig: the policy's topology, importable without PyTorch (the kernel node needs it).

Field names follow the reference's GPTConfig where it has one (use_vision, use_robotics,
robotics_diffusion_steps, robotics_sensor_dim, robotics_surface_dim). The action head is one
field, `head`; files written before it say which head with two booleans,
`robotics_use_diffusion` and `robotics_categorical`, which `from_dict` still reads.
"""
from dataclasses import asdict, dataclass, fields

from nanobot_ros.policy.text_encoder import MAX_TOKENS

TEXT_VOCAB = 257  # 256 byte values + padding
TEXT_PAD = 256
HEADS = ('regression', 'diffusion', 'categorical')
# The target task's action vectors (stay, right, left, up, down), in model units: the sim's
# five moves, which a categorical head's logits index (its default `n_actions`).
DEFAULT_DISCRETE_ACTIONS = ((0.0, 0.0), (1.0, 0.0), (-1.0, 0.0), (0.0, -1.0), (0.0, 1.0))


@dataclass
class PolicyConfig:
    """Topology of the policy; saved in every checkpoint and ONNX export."""

    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    causal: bool = False
    film: bool = True
    # FiLM's text summary: 'mean' of the text tokens (order lost: "red, then blue" = "blue,
    # then red"), or 'cross': plus, per vision token, a cross-attention over the text tokens
    # after one block over them with positions (modeling.py), which keeps the order; its
    # output projection starts at zero, so a 'cross' policy starts as the 'mean' one.
    text_condition: str = 'mean'
    max_text_len: int = 24
    text_encoder: str = 'bytes'  # or 'minilm': frozen MiniLM token states (text_encoder.py)
    use_vision: bool = True
    image_size: int = 20
    patch_size: int = 4
    vision_embd: int = 32
    vision_depth: int = 1
    use_robotics: bool = True
    robotics_sensor_dim: int = 0
    robotics_surface_dim: int = 0
    robotics_action_dim: int = 2
    # regression, diffusion, or categorical: logits over n_actions discrete action vectors
    # (GRPO needs them; the vectors are the buffer `action_vectors`, in the weights).
    head: str = 'regression'
    n_actions: int = len(DEFAULT_DISCRETE_ACTIONS)
    ternary: bool = False  # BitNet b1.58 ternary transformer layers (policy/bitnet.py)
    robotics_diffusion_steps: int = 100
    robotics_diffusion_prediction: str = 'sample'
    robotics_aux_regression: float = 1.0
    diffusion_hidden: int = 128

    def validate(self) -> None:
        """Raise ValueError naming the first setting that makes no model."""
        if self.n_embd % self.n_head:
            raise ValueError(f'n_embd {self.n_embd} is not divisible by n_head {self.n_head}')
        if not self.use_robotics:
            raise ValueError('the policy acts: use_robotics must be true')
        if self.robotics_action_dim < 1:
            raise ValueError(f'robotics_action_dim must be >= 1, got '
                             f'{self.robotics_action_dim}')
        if self.head not in HEADS:
            raise ValueError(f'head must be one of {", ".join(HEADS)}, got {self.head!r}')
        if self.n_actions < 1:
            raise ValueError(f'n_actions must be >= 1, got {self.n_actions}')
        if self.robotics_diffusion_steps < 2:
            raise ValueError('robotics_diffusion_steps must be >= 2')
        if self.text_encoder not in ('bytes', 'minilm'):
            raise ValueError(f'text_encoder must be bytes or minilm, got {self.text_encoder!r}')
        if self.text_encoder == 'minilm' and self.max_text_len != MAX_TOKENS:
            raise ValueError(f'text_encoder minilm gives {MAX_TOKENS} token states: set '
                             f'max_text_len={MAX_TOKENS}')
        if self.text_condition not in ('mean', 'cross'):
            raise ValueError(f'text_condition must be mean or cross, got '
                             f'{self.text_condition!r}')
        if self.text_condition == 'cross' and not (self.use_vision and self.film):
            raise ValueError('text_condition cross conditions the vision tokens: it needs '
                             'use_vision and film')
        if self.max_text_len < 1:
            raise ValueError(f'max_text_len must be >= 1, got {self.max_text_len}')
        if self.use_vision:
            self.vit_config().validate()

    def vit_config(self):
        """Return the ViT encoder's config (no MAE decoder here: its sizes the smallest)."""
        from nanobot_ros.models.vit import ViTConfig
        return ViTConfig(img_size=self.image_size, patch_size=self.patch_size,
                         embed_dim=self.vision_embd, depth=self.vision_depth, num_heads=4,
                         decoder_dim=16, decoder_depth=0, decoder_num_heads=4)

    @property
    def num_vision_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2 if self.use_vision else 0

    @property
    def sequence_length(self) -> int:
        return ((self.robotics_sensor_dim > 0) + (self.robotics_surface_dim > 0)
                + self.num_vision_tokens + self.max_text_len + 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> 'PolicyConfig':
        """Rebuild from `to_dict()`; unknown keys are an error that names them.

        A config without `head` is an older file's: its two head booleans name the head.
        """
        if 'head' not in values:
            values = dict(values)
            diffusion = values.pop('robotics_use_diffusion', False)
            categorical = values.pop('robotics_categorical', False)
            if diffusion and categorical:
                raise ValueError('the config names two action heads (robotics_use_diffusion '
                                 'and robotics_categorical)')
            values['head'] = ('diffusion' if diffusion else
                              'categorical' if categorical else 'regression')
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f'unknown policy config keys {unknown}')
        return cls(**values)
