"""Running under systemd: sd_notify (READY, WATCHDOG, STATUS, STOPPING) and the progress watchdog."""
