"""The esp32_bridge node's settings: the port, the names on the wire, timing and stamps."""
from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class BridgeConfig:
    """How the bridge talks to the board and what it publishes."""

    port: str = '/dev/ttyUSB0'
    baudrate: int = 921600
    # None: the names the device sends in its DESCRIBE frame.
    telemetry_names: Optional[List[str]] = None
    joint_names: List[str] = field(default_factory=lambda: ['wheel_left', 'wheel_right'])
    motor_names: List[str] = field(default_factory=lambda: ['motor_left', 'motor_right'])
    motor_limit: float = 1.0
    action_timeout: float = 0.5      # s an action holds at most before the motors stop
    heartbeat_period: float = 0.05   # s between HEARTBEAT + MOTOR frames to the device
    device_timeout: float = 0.5      # s without a valid frame before the device is silent
    telemetry_limit: float = 1.0e6   # telemetry / surface values beyond +-this are rejected
    frame_id: str = 'esp32'
    imu_frame_id: str = 'esp32_imu'
    publish_joint_states: bool = True
    publish_imu: bool = True
    reconnect_backoff_max: float = 0.5
    stamp: str = 'device'            # device: the sample time; receive: when the frame arrived
    qos_reliability: str = 'best_effort'

    def __post_init__(self):
        if self.stamp not in ('device', 'receive'):
            raise ValueError(f'stamp must be device or receive, got {self.stamp!r}')
        if self.heartbeat_period <= 0 or self.device_timeout <= 0:
            raise ValueError('heartbeat_period and device_timeout must be > 0')
        if not self.telemetry_limit > 0:
            raise ValueError(f'telemetry_limit must be > 0, got {self.telemetry_limit}')
