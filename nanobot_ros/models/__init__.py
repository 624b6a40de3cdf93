"""Pure PyTorch models; nothing here imports rclpy."""
