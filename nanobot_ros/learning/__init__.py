"""Learning loops and their helpers (plateau detection, world model loop); no rclpy."""
