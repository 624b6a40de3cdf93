"""esp32_emulator: an emulated ESP32 on a pty, for mock stacks and hardware-free runs.

Not a robot interface: it runs robots/esp32/emulator.Esp32Emulator (a real pty pair whose
slave end is reached through the symlink `link`) and reports the device's state (motor outputs,
watchdog, frames, injected faults) on /diagnostics. Point esp32_bridge's `port` at `link`.
"""
from nanobot_ros.nodes.common import NanobotNode, OK, run, WARN
from nanobot_ros.robots.esp32.emulator import EmulatorConfig, Esp32Emulator

DESCRIPTIONS = {
    'link': 'symlink created to the pty the host opens',
    'telemetry_rate': 'TELEMETRY frames per second',
    'telemetry_size': 'channels per TELEMETRY frame (>= 12; extras are check_<k>)',
    'surface_rate': 'SURFACE frames per second',
    'surface_size': 'floats per SURFACE frame',
    'heartbeat_period': 'seconds between device HEARTBEAT frames',
    'watchdog_ms': 'motors stop when no valid frame came for this long (ms)',
    'wheel_speed': 'wheel speed at motor command 1 (rad/s)',
    'bit_error_rate': 'probability of flipping each sent bit',
    'drop_byte_rate': 'probability of dropping each sent byte',
    'truncate_rate': 'probability of cutting a sent frame short',
    'burst_rate': 'probability of a burst of random bytes in a sent frame',
    'bad_value_rate': 'probability of a NaN/Inf/out-of-range telemetry value per frame',
    'disconnect_period': 'seconds between emulated unplugs (0 = never)',
    'disconnect_duration': 'seconds an emulated unplug lasts',
    'seed': 'seed of the fault injection',
}


class Esp32EmulatorNode(NanobotNode):
    """Runs the emulated device and reports its state."""

    def __init__(self):
        super().__init__('esp32_emulator')
        config = EmulatorConfig(**self.declare_config(EmulatorConfig, DESCRIPTIONS))
        self.emulator = Esp32Emulator(config).start()
        self.get_logger().info(
            f'emulated ESP32 on {config.link} -> {self.emulator.plug()}: telemetry '
            f'{config.telemetry_size} x {config.telemetry_rate} Hz, surface '
            f'{config.surface_size} x {config.surface_rate} Hz, watchdog {config.watchdog_ms} ms')

    def status(self):
        """Report the device's motors, watchdog and counters."""
        values = self.emulator.summary()
        if self.emulator.watchdog_stopped:
            return WARN, 'watchdog stopped the motors', values
        return OK, 'running', values

    def on_shutdown(self) -> None:
        """Report, then unplug."""
        super().on_shutdown()
        self.emulator.stop()


def main(args=None):
    """Run the esp32_emulator node."""
    raise SystemExit(run(Esp32EmulatorNode, args))


if __name__ == '__main__':
    main()
