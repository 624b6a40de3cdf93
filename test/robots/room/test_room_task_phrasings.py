"""Room instructions: training and held-out templates never share a phrasing; same layouts.

The paraphrase split (more training phrasings for GRPO) adds no held-out template or word.
"""
import re

from nanobot_ros.robots.room.task import (RoomTaskConfig, sample_episode, SHAPE_WORDS,
                                          TEMPLATES)
from nanobot_ros.robots.sim.task_family import phrase
import numpy as np
import pytest


def instructions(phrasings: str, seeds) -> dict:
    config = RoomTaskConfig(phrasings=phrasings)
    out = {}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        episode = sample_episode(config, rng)
        out[seed] = (episode, phrase(config.template_table, phrasings, episode.names, rng))
    return out


def test_held_out_phrasings_never_appear_in_training_and_layouts_match():
    for steps in (1, 2):
        assert not set(TEMPLATES[('train', steps)]) & set(TEMPLATES[('heldout', steps)])
    train, heldout = instructions('train', range(80)), instructions('heldout', range(80))
    assert not {t for _, t in train.values()} & {t for _, t in heldout.values()}
    for seed in range(80):
        (a, text_a), (b, text_b) = train[seed], heldout[seed]
        assert a == b  # the seed alone decides layout, start and the objects' names
        for name in a.names:  # the same words, other templates
            assert name in text_a and name in text_b
    counts = {len(e.objects) for e, _ in train.values()}
    steps = {e.steps for e, _ in train.values()}
    assert counts == {2, 3, 4} and steps == {1, 2}


def test_names_are_unique_among_the_episode_objects():
    for seed in range(200):
        episode, _ = instructions('train', [seed])[seed]
        for obj, name in zip(episode.objects, episode.names):
            matching = [o for o in episode.objects
                        if name in (f'{o.color} {SHAPE_WORDS[o.shape]}', f'{o.color} one',
                                    SHAPE_WORDS[o.shape])]
            assert matching == [obj], (seed, name)


def words(split: str) -> set:
    return {w.strip(',;') for steps in (1, 2) for t in TEMPLATES[(split, steps)]
            for w in t.replace('{}', ' ').split()} - {''}


def split_of(instruction: str) -> set:
    """Return the splits with a template that gives `instruction`."""
    return {split for (split, _), options in TEMPLATES.items() for t in options
            if re.fullmatch(re.escape(t).replace(r'\{\}', '.+'), instruction)}


def test_paraphrases_add_no_held_out_template_or_word():
    for steps in (1, 2):
        assert not set(TEMPLATES[('paraphrase', steps)]) & set(TEMPLATES[('heldout', steps)])
    # the only held-out words they use are the ones the training templates already do
    assert words('paraphrase') & words('heldout') <= words('train') & words('heldout')
    assert words('train') & words('heldout') == {'go', 'to', 'the', 'and'}


def test_joined_splits_draw_from_both():
    drawn = [split_of(t) for _, t in instructions('train+paraphrase', range(300)).values()]
    assert all(splits & {'train', 'paraphrase'} for splits in drawn)
    assert any(splits == {'train'} for splits in drawn)
    assert any(splits == {'paraphrase'} for splits in drawn)
    with pytest.raises(ValueError, match=r"\['heldout', 'paraphrase', 'train'\] .* "
                                         r"got 'train\+nowhere'"):
        RoomTaskConfig(phrasings='train+nowhere')
