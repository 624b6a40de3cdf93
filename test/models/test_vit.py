"""MaskedAutoencoderViT: shapes, patch order, masking, fixed positions, one-batch overfit."""
import pytest
import torch

from nanobot_ros.models.vit import (images_to_tensor, MaskedAutoencoderViT, patchify,
                                    random_masking, reconstruction_loss, unpatchify, ViTConfig)

TINY = ViTConfig(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2,
                 decoder_dim=32, decoder_num_heads=2)


def test_patchify_round_trip_and_order():
    images = torch.rand(2, 3, 32, 32)
    patches = patchify(images, 8)
    assert patches.shape == (2, 16, 8 * 8 * 3)
    # Patch 1 is the second patch of the first row: columns 8..15 of rows 0..7.
    assert torch.equal(patches[0, 1].reshape(8, 8, 3), images[0, :, :8, 8:16].permute(1, 2, 0))
    assert torch.equal(unpatchify(patches, 8), images)


def test_shapes_of_encode_decode_forward():
    model = MaskedAutoencoderViT(TINY)
    images = torch.rand(3, 3, 32, 32)
    assert model.encode(images).shape == (3, 16, 32)
    predicted, mask, latent = model(images, mask_ratio=0.75)
    assert predicted.shape == (3, 16, 192)
    assert latent.shape == (3, 4, 32)
    assert mask.shape == (3, 16) and torch.all(mask.sum(dim=1) == 12)
    assert model.decode(model.encode(images)).shape == (3, 16, 192)


def test_random_masking_keeps_the_right_share_and_restores_order():
    tokens = torch.arange(10.).reshape(1, 10, 1).repeat(4, 1, 1)
    kept, mask, ids_restore = random_masking(tokens, 0.3, torch.Generator().manual_seed(0))
    assert kept.shape == (4, 7, 1)
    for row in range(4):
        visible = tokens[row, mask[row] == 0, 0]
        assert sorted(kept[row, :, 0].tolist()) == sorted(visible.tolist())
    assert torch.all(mask.sum(dim=1) == 3)
    full = torch.cat([kept, torch.full((4, 3, 1), -1.0)], dim=1)
    restored = torch.gather(full, 1, ids_restore.unsqueeze(-1))
    assert torch.equal(restored[mask == 0], tokens[mask == 0])


def test_training_mask_ratio_stays_in_the_reference_range():
    model = MaskedAutoencoderViT(TINY)
    generator = torch.Generator().manual_seed(1)
    ratios = [model.sample_mask_ratio(generator) for _ in range(200)]
    assert 0.3 <= min(ratios) < 0.4 and 0.75 < max(ratios) <= 0.85


def test_positional_embeddings_are_fixed():
    model = MaskedAutoencoderViT(TINY)
    names = [name for name, _ in model.named_parameters()]
    assert not any('pos_embed' in name for name in names)
    assert 'pos_embed' not in model.state_dict()


def test_wrong_image_size_and_bad_config_are_refused():
    model = MaskedAutoencoderViT(TINY)
    with pytest.raises(ValueError, match='expected images'):
        model.encode(torch.rand(1, 3, 24, 24))
    with pytest.raises(ValueError, match='multiple of patch_size'):
        ViTConfig(img_size=30, patch_size=8).validate()
    with pytest.raises(ValueError, match='uint8'):
        images_to_tensor(torch.rand(2, 2, 3).numpy())


def test_overfits_one_batch():
    torch.manual_seed(0)
    model = MaskedAutoencoderViT(TINY)
    images = torch.zeros(2, 3, 32, 32)
    images[0, :, 4:10, 4:10] = 1.0
    images[1, :, 20:28, 12:18] = 1.0
    target = model.patchify(images)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        predicted, mask, _ = model(images)
        loss = reconstruction_loss(predicted, target, mask)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05 * first


def test_a_fresh_decoder_draws_an_all_black_frame():
    model = MaskedAutoencoderViT(TINY)
    predicted, _, _ = model(torch.rand(2, 3, 32, 32))
    assert torch.equal(predicted, torch.zeros(2, 16, 192))
