"""Ternary (1.58-bit) linear layers, BitNet b1.58 style, for quantization-aware training.

BitNet b1.58 (Ma et al. 2024), as BitMar uses it: a weight matrix W is replaced in the forward
pass by round(W / s) clipped to {-1, 0, +1}, times s = mean(|W|) (absmean); activations by
8-bit absmax per token. The straight-through estimator passes gradients to the full-precision
W, so training (QAT, from the cloned weights) learns weights that survive ternarization.

Which layers (`TERNARY_TARGETS`): the transformer blocks of the trunk and of the ViT encoder
(attention and MLP projections), which hold most of the weights; the patch embedding, the byte
embedding, FiLM and the action head stay in full precision, as BitNet keeps its embeddings and
LM head.

`freeze()` turns a trained layer into what is deployed: an int8 buffer of the ternary values
and the scale, so the ONNX export stores one byte per weight (ONNX has no 2-bit type) and the
graph multiplies it back: the same numbers as the training forward.
"""
import torch
from torch import nn

TERNARY_TARGETS = ('attn.qkv', 'attn.proj', 'mlp.0', 'mlp.3')


def ternary_weight(weight: torch.Tensor) -> tuple:
    """Return (ternary values in {-1, 0, 1}, absmean scale) of a weight matrix."""
    scale = weight.abs().mean().clamp(min=1e-5)
    return (weight / scale).round().clamp(-1, 1), scale


def quantize_activations(x: torch.Tensor) -> torch.Tensor:
    """Return x rounded to 8-bit absmax per token (last dimension), as floats."""
    scale = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    return (x * scale).round().clamp(-128, 127) / scale


class BitLinear(nn.Linear):
    """nn.Linear whose forward uses ternary weights and 8-bit activations (STE in training)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the layer's output with quantized weights and activations."""
        x = x + (quantize_activations(x) - x).detach()
        if hasattr(self, 'ternary'):
            weight = self.ternary.float() * self.scale
        else:
            values, scale = ternary_weight(self.weight)
            weight = self.weight + (values * scale - self.weight).detach()
        return nn.functional.linear(x, weight, self.bias)

    def freeze(self) -> None:
        """Replace the full-precision weight by int8 ternary values and the scale (deployment)."""
        with torch.no_grad():
            values, scale = ternary_weight(self.weight)
        del self.weight
        self.register_buffer('ternary', values.to(torch.int8))
        self.register_buffer('scale', scale.reshape(()))


def ternarize_(model: nn.Module) -> int:
    """Swap the target nn.Linear layers of `model` for BitLinear in place; return how many."""
    swapped = 0
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f'{name}.{child_name}' if name else child_name
            if type(child) is nn.Linear and full.endswith(TERNARY_TARGETS):
                layer = BitLinear(child.in_features, child.out_features, child.bias is not None)
                layer.load_state_dict(child.state_dict())
                setattr(module, child_name, layer)
                swapped += 1
    return swapped


def freeze_(model: nn.Module) -> int:
    """Freeze every BitLinear of `model` for deployment; return how many."""
    layers = [m for m in model.modules() if isinstance(m, BitLinear) and hasattr(m, 'weight')]
    for layer in layers:
        layer.freeze()
    return len(layers)
