"""With macro-action levels, a stall still ends the primitive action the explorer holds."""
from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.hierarchy import Hierarchy, HierarchyConfig
from nanobot_ros.learning.world_model import WorldModel
from tiny_world_model import dot_frame, tiny_config


def test_a_stall_ends_the_hold_when_the_hierarchy_hands_the_choice_to_the_explorer():
    model = WorldModel(tiny_config(), seed=0)
    hierarchy = Hierarchy(HierarchyConfig(hierarchy_levels=1), model, 2)
    loop = AdaptiveWorldModelLoop(model, LoopConfig(
        reconstruction_threshold=1.0, exploration_hold=1000.0, exploration_hold_stall=1e-4),
        hierarchy=hierarchy)
    hierarchy.create_level(model)
    frame = dot_frame(6)
    # Level 0's uncertainty far above any macro-action's per step: the explorer chooses.
    first = loop.perceive(frame)
    first.uncertainty = [1e9, 0.0]
    assert loop.select(first) == 0 and loop.explorer.hold_left > 0
    loop.record_outcome(first, 0, frame)
    # The same frame again: the view did not change (change 0), so the hold ends and the
    # explorer chooses anew: action 1, now the most uncertain.
    second = loop.perceive(frame)
    assert second.change == 0.0
    second.uncertainty = [0.0, 1e9]
    assert loop.select(second) == 1
    assert loop.explorer.holds_ended_stalled == 1
    assert hierarchy.macro_selections == {1: 0}
