"""Parameters of a small world_model node for the node tests (224 px like the sim)."""


def small_world_model(**overrides) -> dict:
    """Return parameters of a world_model that trains a step in well under a second."""
    params = {'patch_size': 32, 'embed_dim': 32, 'depth': 1, 'predictor_depth': 1,
              'batch_size': 2, 'debug_image_interval': 1, 'sync_interval': 1,
              'reconstruction_threshold': 1.0}
    params.update(overrides)
    return params
