"""Telemetry and SurfaceVector <-> numpy helpers of data/convert.py."""
import numpy as np
import pytest

from nanobot_ros.data.convert import (make_surface, make_telemetry, surface_to_numpy,
                                      telemetry_values)


def test_telemetry_round_trip_and_reuse():
    msg = make_telemetry(['a', 'b'], np.array([1.5, -2.0]), sequence=7)
    assert msg.sequence == 7 and telemetry_values(msg) == {'a': 1.5, 'b': -2.0}
    again = make_telemetry(['a', 'b'], [3.0, 4.0], sequence=2**32 + 1, msg=msg)
    assert again is msg and msg.sequence == 1 and telemetry_values(msg) == {'a': 3.0, 'b': 4.0}
    with pytest.raises(ValueError, match='2 names but 3 values'):
        make_telemetry(['a', 'b'], [1.0, 2.0, 3.0])
    msg.names = ['a']
    with pytest.raises(ValueError):
        telemetry_values(msg)


def test_surface_round_trip():
    data = np.linspace(-1, 1, 64, dtype=np.float32)
    msg = make_surface(data, sequence=3, source='esp32')
    assert msg.source == 'esp32' and msg.sequence == 3
    np.testing.assert_array_equal(surface_to_numpy(msg), data)
