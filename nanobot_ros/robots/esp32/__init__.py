"""The ESP32 board: serial protocol, link with reconnect, host, emulator on a pty, clock sync."""
