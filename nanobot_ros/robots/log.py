"""How the robots layer reports events: `log(level, text)`, one vocabulary for every driver.

Drivers and streams (camera capture, the JetBot motor driver, the ESP32 serial link) run in
their own threads and know no ROS. Whoever owns one passes a callable `log(level, text)`; a node
passes `NanobotNode.robot_log`, which maps each level to the ROS logger's severity. `level` is
one of LEVELS: Python logging's level names as its Logger methods spell them ('warning', never
'warn'), so a plain `getattr(logging.getLogger(...), level)(text)` serves outside ROS too.
"""

LEVELS = ('debug', 'info', 'warning', 'error', 'critical')
