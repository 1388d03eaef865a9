"""24 more `ok` families of the log-triage task, beyond the 48 of `logtriage_families`.

Routine lines (nothing to do): a UPS online, a RAID resync done, a VPN tunnel up, a camera
registered, a database ready, a Zigbee device paired, a watchdog armed, ...

Each is a different kind of event from the others, worded as the program really logs it, and
shares no run of four words with any other catalogue's wording or the breadth families'
(tests/exporters/slm/test_logtriage.py): a held-out family stays unseen.
"""

from __future__ import annotations

import random

from exporters.slm.tasks.logtriage_family import Family, FieldMaker, _f


def _ts(rng: random.Random) -> str:
    return (
        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randrange(24):02d}:"
        f"{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(10**9):09d}Z"
    )


def _day_time(rng: random.Random, sep: str = "-") -> str:
    return (
        f"2024{sep}{rng.randint(1, 12):02d}{sep}{rng.randint(1, 28):02d} {rng.randrange(24):02d}:"
        f"{rng.randrange(60):02d}:{rng.randrange(60):02d}"
    )


# placeholders of these families (prefixed x_o_: `logtriage_families.fields` merges every catalogue's)
EXTRA_FIELDS: dict[str, FieldMaker] = {
    "x_o_ups": lambda rng: rng.choice(("ups@localhost", "eaton@localhost", "apc@127.0.0.1", "ups@nas.local")),
    "x_o_md": lambda rng: rng.choice(("md0", "md1", "md127")),
    "x_o_mirrors": lambda rng: rng.choice((2, 3)),
    "x_o_mid": lambda rng: f"{rng.getrandbits(128):032x}",
    "x_o_swapk": lambda rng: rng.choice((102396, 204796, 524284, 1048572, 2097148)),
    "x_o_aid": lambda rng: rng.randint(1, 12),
    "x_o_vpnpeer": lambda rng: rng.choice(("vpn-hq", "office-gw", "client", "site-b")),
    "x_o_modem": lambda rng: rng.choice(("modem0", "modem1")),
    "x_o_bluez": lambda rng: rng.choice(("5.55", "5.66", "5.68", "5.72")),
    "x_o_btmgmt": lambda rng: rng.choice(("1.18", "1.21", "1.22")),
    "x_o_chrony": lambda rng: rng.choice(("4.0", "4.3", "4.5")),
    "x_o_tty": lambda rng: rng.randint(0, 3),
    "x_o_cam": lambda rng: rng.choice(
        ("HD Pro Webcam C920", "USB 2.0 Camera", "Logitech BRIO", "UVC Camera", "HD Webcam C615")
    ),
    "x_o_sudocmd": lambda rng: rng.choice(
        (
            "/usr/bin/apt update",
            "/usr/bin/vcgencmd measure_temp",
            "/usr/bin/journalctl -b",
            "/usr/bin/raspi-config nonint get_hostname",
            "/usr/bin/systemctl status mosquitto",
            "/usr/bin/nano /etc/hosts",
        )
    ),
    "x_o_ts": _ts,
    "x_o_dockerver": lambda rng: rng.choice(("20.10.24", "24.0.7", "25.0.3", "26.1.4")),
    "x_o_pgts": lambda rng: f"{_day_time(rng)}.{rng.randrange(1000):03d} UTC",
    "x_o_pgver": lambda rng: rng.choice(("13.14", "15.5", "15.8", "16.3")),
    "x_o_ngts": lambda rng: _day_time(rng, "/"),
    "x_o_wpid": lambda rng: rng.randint(300, 32000),
    "x_o_lcts": lambda rng: f"0:00:{rng.randint(1, 59):02d}.{rng.randrange(10**9):09d}",
    "x_o_lcver": lambda rng: rng.choice(("v0.0.5+83-bde9b04f", "v0.1.0+52-a858d20b", "v0.3.0+rpt20240617")),
    "x_o_sensor": lambda rng: rng.choice(("imx219", "imx477", "imx708", "ov5647")),
    "x_o_rsv": lambda rng: rng.choice(("8.2102.0", "8.2302.0", "8.2312.0")),
    "x_o_anajob": lambda rng: rng.choice(("cron.daily", "cron.weekly", "cron.monthly")),
    "x_o_bridge": lambda rng: rng.choice(("cloud", "aws-iot", "hq-bridge", "backup-broker")),
    "x_o_broker": lambda rng: rng.choice(
        ("mqtt.example.com", "broker.hivemq.com", "iot.plant.local", "a1b2c3d4e5.iot.eu-west-1.amazonaws.com")
    ),
    "x_o_z2mts": _day_time,
    "x_o_ieee": lambda rng: f"0x{rng.getrandbits(64):016x}",
    "x_o_wdto": lambda rng: rng.choice((10, 15, 60)),
    "x_o_wdver": lambda rng: rng.choice(("5.15", "5.16")),
    "x_o_i2cdev": lambda rng: rng.choice(("bme280", "sht3x", "ads1015", "bmp280", "tmp102", "ina219")),
    "x_o_i2caddr": lambda rng: rng.choice(("48", "40", "44", "76", "77")),
    "x_o_w1id": lambda rng: f"28-{rng.getrandbits(48):012x}",
    "x_o_crc": lambda rng: f"{rng.getrandbits(8):02x}",
}

FAMILIES: tuple[Family, ...] = (
    # ---- power ---------------------------------------------------------------------------------
    _f("ups_online", "ok", "power", "none", "upsmon",
       "Communications with UPS {x_o_ups} established",
       "UPS {x_o_ups} on line power"),
    # ---- thermal -------------------------------------------------------------------------------
    _f("fancontrol_started", "ok", "thermal", "none", "fancontrol",
       "Loading configuration from /etc/fancontrol ...",
       "Starting automatic fan control..."),
    # ---- storage -------------------------------------------------------------------------------
    _f("raid_resync_done", "ok", "storage", "none", "kernel",
       "md: {x_o_md}: resync done.",
       "md: {x_o_md}: recovery done.",
       "md/raid1:{x_o_md}: active with {x_o_mirrors} out of {x_o_mirrors} mirrors"),
    _f("journal_flushed", "ok", "storage", "none", "systemd-journald",
       "Received client request to flush runtime journal.",
       "Time spent on flushing to /var/log/journal/{x_o_mid} is {n}.{n3}ms for {big} entries.",
       "System Journal (/var/log/journal/{x_o_mid}) is {mb}.0M, max 4.0G, 3.{n}G free."),
    # ---- memory --------------------------------------------------------------------------------
    _f("swap_activated", "ok", "memory", "none", "kernel",
       "Adding {x_o_swapk}k swap on /var/swap.  Priority:-2 extents:1 across:{x_o_swapk}k SS",
       "Adding {x_o_swapk}k swap on /dev/zram0.  Priority:100 extents:1 across:{x_o_swapk}k SSFS"),
    # ---- network -------------------------------------------------------------------------------
    _f("ap_client_associated", "ok", "network", "none", "hostapd",
       "{wlan}: STA {mac} IEEE 802.11: associated (aid {x_o_aid})",
       "{wlan}: AP-STA-CONNECTED {mac}",
       "{wlan}: STA {mac} WPA: pairwise key handshake completed (RSN)"),
    _f("openvpn_tunnel_up", "ok", "network", "none", "openvpn",
       "{x_o_vpnpeer}/{ip}:1194 Peer Connection Initiated with [AF_INET]{ip}:1194",
       "TUN/TAP device tun0 opened",
       "Initialization Sequence Completed"),
    _f("lte_modem_connected", "ok", "network", "none", "ModemManager",
       "<info>  [{x_o_modem}] 3GPP registration state changed (searching -> home)",
       "<info>  [{x_o_modem}] state changed (connecting -> connected)",
       "<info>  [{x_o_modem}] simple connect state (8/8): all done"),
    _f("bluetooth_ready", "ok", "network", "none", "bluetoothd",
       "Bluetooth daemon {x_o_bluez}",
       "Bluetooth management interface {x_o_btmgmt} initialized",
       "Starting SDP server"),
    # ---- time ----------------------------------------------------------------------------------
    _f("chrony_started", "ok", "time", "none", "chronyd",
       "chronyd version {x_o_chrony} starting (+CMDMON +NTP +REFCLOCK +RTC +PRIVDROP +SCFILTER +SIGND "
       "+ASYNCDNS +NTS +SECHASH +IPV6 -DEBUG)",
       "Frequency -{n}.{n3} +/- 0.{n2} ppm read from /var/lib/chrony/chrony.drift",
       "Using right/UTC timezone to obtain leap second data"),
    # ---- usb -----------------------------------------------------------------------------------
    _f("usb_serial_attached", "ok", "usb", "none", "kernel",
       "usb 1-1.{n}: FTDI USB Serial Device converter now attached to ttyUSB{x_o_tty}",
       "usb 1-1.{n}: cp210x converter now attached to ttyUSB{x_o_tty}",
       "cdc_acm 1-1.{n}:1.0: ttyACM{x_o_tty}: USB ACM device"),
    _f("uvc_camera_found", "ok", "usb", "none", "kernel",
       "uvcvideo 1-1.{n}:1.0: Found UVC 1.00 device {x_o_cam} ({hex4}:{hex4b})",
       "usbcore: registered new interface driver uvcvideo"),
    # ---- security ------------------------------------------------------------------------------
    _f("sudo_command", "ok", "security", "none", "sudo",
       "{user} : TTY=pts/{n} ; PWD=/home/{user} ; USER=root ; COMMAND={x_o_sudocmd}",
       "{user} : PWD=/home/{user} ; USER=root ; COMMAND={x_o_sudocmd}"),
    _f("firewall_rules_loaded", "ok", "security", "none", "netfilter-persistent",
       "run-parts: executing /usr/share/netfilter-persistent/plugins.d/15-ip4tables start",
       "run-parts: executing /usr/share/netfilter-persistent/plugins.d/25-ip6tables start"),
    # ---- service -------------------------------------------------------------------------------
    _f("docker_daemon_ready", "ok", "service", "none", "dockerd",
       'time="{x_o_ts}" level=info msg="Loading containers: done."',
       'time="{x_o_ts}" level=info msg="Daemon has completed initialization"',
       'time="{x_o_ts}" level=info msg="API listen on /run/docker.sock"'),
    _f("postgres_ready", "ok", "service", "none", "postgres",
       "{x_o_pgts} [{pid}] LOG:  database system is ready to accept connections",
       '{x_o_pgts} [{pid}] LOG:  listening on IPv4 address "0.0.0.0", port 5432',
       "{x_o_pgts} [{pid}] LOG:  starting PostgreSQL {x_o_pgver} on aarch64-unknown-linux-gnu, "
       "compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit"),
    _f("nginx_reloaded", "ok", "service", "none", "nginx",
       "{x_o_ngts} [notice] {pid}#{pid}: signal 1 (SIGHUP) received from {x_o_wpid}, reconfiguring",
       "{x_o_ngts} [notice] {pid}#{pid}: reconfiguring",
       "{x_o_ngts} [notice] {pid}#{pid}: start worker process {x_o_wpid}"),
    _f("libcamera_registered", "ok", "service", "none", "libcamera",
       "[{x_o_lcts}] [{pid}]  INFO Camera camera_manager.cpp:297 libcamera {x_o_lcver}",
       "[{x_o_lcts}] [{pid}]  INFO RPI vc4.cpp:444 Registered camera /base/soc/i2c0mux/i2c@1/{x_o_sensor}@10 "
       "to Unicam device /dev/media{n} and ISP device /dev/media0"),
    _f("rsyslog_reopened", "ok", "service", "none", "rsyslogd",
       '[origin software="rsyslogd" swVersion="{x_o_rsv}" x-pid="{pid}" x-info="https://www.rsyslog.com"] '
       "rsyslogd was HUPed",
       '[origin software="rsyslogd" swVersion="{x_o_rsv}" x-pid="{pid}" '
       'x-info="https://www.rsyslog.com"] start'),
    # ---- scheduler -----------------------------------------------------------------------------
    _f("anacron_done", "ok", "scheduler", "none", "anacron",
       "Anacron 2.3 started on {date}",
       "Job `{x_o_anajob}' terminated",
       "Normal exit ({n} jobs run)"),
    # ---- messaging -----------------------------------------------------------------------------
    _f("mqtt_bridge_connected", "ok", "messaging", "none", "mosquitto",
       "Connecting bridge {x_o_bridge} ({x_o_broker}:8883)",
       "Bridge {x_o_bridge} doing local SUBSCRIBE on topic site/#",
       "Received CONNACK on connection local.{host}.{x_o_bridge}."),
    _f("zigbee_device_paired", "ok", "messaging", "none", "zigbee2mqtt",
       "Zigbee2MQTT:info  {x_o_z2mts}: Successfully interviewed '{x_o_ieee}', device has "
       "successfully been paired",
       "Zigbee2MQTT:info  {x_o_z2mts}: Device '{x_o_ieee}' joined",
       "Zigbee2MQTT:info  {x_o_z2mts}: Starting interview of '{x_o_ieee}'"),
    # ---- watchdog ------------------------------------------------------------------------------
    _f("watchdog_armed", "ok", "watchdog", "none", "watchdog",
       "starting daemon ({x_o_wdver}):",
       "hardware watchdog identity: Broadcom BCM2835 Watchdog timer",
       "watchdog now set to {x_o_wdto} seconds"),
    # ---- kernel --------------------------------------------------------------------------------
    _f("sensor_bus_device_added", "ok", "kernel", "none", "kernel",
       "i2c i2c-1: new_device: Instantiated device {x_o_i2cdev} at 0x{x_o_i2caddr}",
       "w1_master_driver w1_bus_master1: Attaching one wire slave {x_o_w1id} crc {x_o_crc}"),
)  # fmt: skip
