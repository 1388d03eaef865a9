"""24 more `fault` families of the log-triage task, beyond the 48 of `logtriage_families`.

Broken or losing data (act now): a RAID array failed, a SMART self-check failed, a corrupt database
page, a container that cannot start, a dead USB host controller, an UPS forced shutdown, ...

Each is a different kind of event from the others, worded as the program really logs it, and
shares no run of four words with any other catalogue's wording or the breadth families'
(tests/exporters/slm/test_logtriage.py): a held-out family stays unseen.
"""

from __future__ import annotations

from exporters.slm.tasks.logtriage_family import Family, FieldMaker, _f

# placeholders of these families (prefixed x_flt_: `logtriage_families.fields` merges every catalogue's)
EXTRA_FIELDS: dict[str, FieldMaker] = {
    "x_flt_md": lambda rng: rng.choice(("0", "1", "127")),
    "x_flt_raidfail": lambda rng: rng.choice(("2/4", "2/3", "3/5", "2/6")),
    "x_flt_sd": lambda rng: rng.choice(("sda", "sdb", "sdc")),
    "x_flt_attr": lambda rng: rng.choice(
        (
            "5 Reallocated_Sector_Ct",
            "184 End-to-End_Error",
            "187 Reported_Uncorrect",
            "197 Current_Pending_Sector",
        )
    ),
    "x_flt_cid": lambda rng: f"{rng.getrandbits(48):012x}",
    "x_flt_image": lambda rng: rng.choice(("/entrypoint.sh", "/app/run.sh", "/usr/local/bin/agent")),
    "x_flt_webport": lambda rng: rng.choice((80, 443, 8080, 8443)),
    "x_flt_camprobe": lambda rng: rng.choice(
        (
            "imx219: probe of 10-0010",
            "imx477: probe of 10-001a",
            "ov5647: probe of 10-0036",
            "imx708: probe of 10-001a",
        )
    ),
    "x_flt_err": lambda rng: rng.choice((5, 22, 110, 121)),
    "x_flt_brcm": lambda rng: rng.choice(("43455", "43430", "43456")),
    "x_flt_ups": lambda rng: rng.choice(("ups@localhost", "eaton@localhost", "apc@nas", "ups@gw-hall3")),
    "x_flt_swapdev": lambda rng: rng.choice(("179:3", "8:2", "254:0")),
    "x_flt_wderr": lambda rng: rng.choice(
        (
            "5 = 'Input/output error'",
            "12 = 'Cannot allocate memory'",
            "110 = 'Connection timed out'",
            "-3 = 'Load average too high'",
        )
    ),
    "x_flt_tz": lambda rng: rng.choice(("0", "1")),
    "x_flt_table": lambda rng: rng.choice(("filter", "nat", "mangle")),
    "x_flt_vpn": lambda rng: rng.choice(("site-vpn", "office", "client", "mgmt")),
    "x_flt_tty": lambda rng: rng.choice(("ttyUSB0", "ttyACM0", "ttyUSB1")),
    "x_flt_pci": lambda rng: rng.choice(("0000:01:00.0", "0000:00:00.0", "1000120000.pcie")),
}

FAMILIES: tuple[Family, ...] = (
    # ---- storage -------------------------------------------------------------------------------
    _f("raid_array_failed", "fault", "storage", "replace the failed disks and restore the array", "kernel",
       "md/raid:md{x_flt_md}: not enough operational devices ({x_flt_raidfail} failed)",
       "md/raid:md{x_flt_md}: failed to run raid set.",
       "md: pers->run() failed ..."),
    _f("smart_health_failed", "fault", "storage", "back up the data and replace the disk", "smartd",
       "Device: /dev/{x_flt_sd} [SAT], FAILED SMART self-check. BACK UP DATA NOW!",
       "Device: /dev/{x_flt_sd} [SAT], Failed SMART usage Attribute: {x_flt_attr}.",
       "Device: /dev/{x_flt_sd} [SAT], SMART Failure: FAILURE PREDICTION THRESHOLD EXCEEDED"),
    _f("postgres_corrupt_page", "fault", "storage", "restore the database from a backup", "postgres",
       "[{n}-1] ERROR:  invalid page in block {big} of relation base/{n3}/{big2}",
       "[{n}-1] PANIC:  could not locate a valid checkpoint record",
       "[{n}-1] ERROR:  could not read block {big} in file \"base/{n3}/{big2}\": read only 0 of 8192 bytes"),
    # ---- service -------------------------------------------------------------------------------
    _f("container_start_failed", "fault", "service", "fix the container image or its entrypoint", "dockerd",
       "level=error msg=\"failed to start container\" container={x_flt_cid} error=\"OCI runtime create "
       "failed: runc create failed: unable to start container process: exec: \\\"{x_flt_image}\\\": "
       "permission denied: unknown\"",
       "level=error msg=\"Handler for POST /v1.43/containers/{x_flt_cid}/start returned error: failed to "
       "create task for container: failed to create shim task: OCI runtime create failed\""),
    _f("nginx_bind_failed", "fault", "service", "free the port or fix the nginx config", "nginx",
       "[emerg] bind() to 0.0.0.0:{x_flt_webport} failed (98: Address already in use)",
       "[emerg] still could not bind()",
       "[emerg] open() \"/etc/nginx/sites-enabled/{unit}\" failed (2: No such file or directory) in "
       "/etc/nginx/nginx.conf:{n2}"),
    _f("package_upgrade_failed", "fault", "service", "repair the package with dpkg --configure -a", "apt",
       "dpkg: error processing package {pkg} (--configure): installed {pkg} package post-installation "
       "script subprocess returned error exit status {n}",
       "E: Sub-process /usr/bin/dpkg returned an error code (1)",
       "dpkg: dependency problems prevent configuration of {pkg}:"),
    # ---- kernel --------------------------------------------------------------------------------
    _f("camera_probe_failed", "fault", "kernel", "reseat the camera ribbon cable", "kernel",
       "imx219 10-0010: failed to read chip id 219, with error -{x_flt_err}",
       "{x_flt_camprobe} failed with error -{x_flt_err}"),
    _f("firmware_load_failed", "fault", "kernel", "reinstall the firmware package", "kernel",
       "brcmfmac mmc1:0001:1: Direct firmware load for brcm/brcmfmac{x_flt_brcm}-sdio.bin failed "
       "with error -2",
       "brcmfmac: brcmf_sdio_firmware_callback: brcmf_attach failed"),
    # ---- network -------------------------------------------------------------------------------
    _f("can_controller_failed", "fault", "network", "check the CAN HAT wiring and its SPI overlay", "kernel",
       "mcp251x spi0.0: MCP251x didn't enter in conf mode after reset",
       "mcp251x spi0.0: Probe failed, err={x_flt_err}"),
    _f("lte_modem_failed", "fault", "network", "check the SIM card and the modem", "ModemManager",
       "Modem /org/freedesktop/ModemManager1/Modem/{n}: state changed (unknown -> failed)",
       "[modem{n}] modem couldn't be initialized: Couldn't check unlock status: SIM not inserted"),
    _f("bluetooth_controller_dead", "fault", "network", "power-cycle the board; check the bluetooth UART",
       "kernel",
       "Bluetooth: hci0: BCM: Reset failed (-110)",
       "Bluetooth: hci0: BCM: Read verbose config info failed (-110)"),
    _f("vpn_auth_failed", "fault", "network", "fix the VPN credentials and restart the tunnel", "openvpn",
       "AUTH: Received control message: AUTH_FAILED",
       "SIGTERM[soft,auth-failure] received, process exiting",
       "{x_flt_vpn}/{ip}:1194 AUTH: Received control message: AUTH_FAILED,session expired"),
    # ---- power / time / usb ----------------------------------------------------------------------
    _f("ups_forced_shutdown", "fault", "power", "restore mains power and recharge the UPS", "upsmon",
       "UPS {x_flt_ups}: forced shutdown in progress",
       "Executing automatic power-fail shutdown",
       "Auto logout and shutdown proceeding"),
    _f("chronyd_fatal", "fault", "time", "fix chronyd's config or permissions and restart it", "chronyd",
       "Fatal error : adjtimex(0x8001) failed : Operation not permitted",
       "Fatal error : Another chronyd may already be running (pid={pid}), check /run/chrony/chronyd.pid"),
    _f("xhci_host_dead", "fault", "usb", "reboot and check the USB controller", "kernel",
       "xhci_hcd {x_flt_pci}: xHCI host controller not responding, assume dead",
       "xhci_hcd {x_flt_pci}: HC died; cleaning up"),
    _f("zigbee_adapter_failed", "fault", "usb", "replug the Zigbee coordinator and restart zigbee2mqtt",
       "zigbee2mqtt",
       "z2m: Failed to start zigbee-herdsman",
       "z2m: Error: Error while opening serialport 'Error: Error: No such file or directory, cannot open "
       "/dev/{x_flt_tty}'",
       "z2m: Error: Failed to connect to the adapter (Error: SRSP - SYS - ping after 6000ms)"),
    # ---- security ------------------------------------------------------------------------------
    _f("sshd_no_hostkeys", "fault", "security", "regenerate the ssh host keys", "sshd",
       "sshd: no hostkeys available -- exiting.",
       "Missing privilege separation directory: /run/sshd"),
    _f("firewall_load_failed", "fault", "security", "fix the firewall ruleset and reload it",
       "iptables-restore",
       "iptables-restore v1.8.9 (nf_tables): line {n2} failed",
       "iptables-restore: unable to initialize table '{x_flt_table}'"),
    # ---- scheduler / messaging / memory --------------------------------------------------------
    _f("cron_job_failed", "fault", "scheduler", "check the job's output and fix it", "CRON",
       "(CRON) error (grandchild #{pid} failed with exit status {n})",
       "(CRON) error (can't fork)"),
    _f("mosquitto_persist_failed", "fault", "messaging",
       "fix the broker's storage; retained messages are lost",
       "mosquitto",
       "Error saving in-memory database, unable to open /var/lib/mosquitto/mosquitto.db.new for writing.",
       "Error saving in-memory database: Read-only file system."),
    _f("swap_write_error", "fault", "memory", "replace the swap device and reboot", "kernel",
       "Write-error on swap-device ({x_flt_swapdev}:{big})",
       "Read-error on swap-device ({x_flt_swapdev}:{big})"),
    # ---- watchdog / thermal --------------------------------------------------------------------
    _f("service_watchdog_timeout", "fault", "watchdog", "check why the service hung", "systemd",
       "{unit}.service: Watchdog timeout (limit {secs}s)!",
       "{unit}.service: Main process exited, code=dumped, status=6/ABRT"),
    _f("watchdogd_shutdown", "fault", "watchdog", "check the error that made the watchdog reboot", "watchdog",
       "shutting down the system because of error {x_flt_wderr}",
       "rebooting system because of error {x_flt_wderr}"),
    _f("thermal_sensor_failed", "fault", "thermal", "check the SoC temperature sensor; power off if hot",
       "kernel",
       "thermal thermal_zone{x_flt_tz}: failed to read out thermal zone (-{x_flt_err})",
       "bcm2711_thermal fd5d2200.thermal: could not register sensor: -{x_flt_err}"),
)  # fmt: skip
