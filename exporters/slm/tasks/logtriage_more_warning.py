"""24 more `warning` families of the log-triage task, beyond the 48 of `logtriage_families`.

Degraded but working (act soon): a UPS on battery, a RAID array degraded, reallocated sectors, a
WireGuard handshake retried, an LTE fallback, a blocked probe, a camera frame stall, ...

Each is a different kind of event from the others, worded as the program really logs it, and
shares no run of four words with any other catalogue's wording or the breadth families'
(tests/exporters/slm/test_logtriage.py): a held-out family stays unseen.
"""

from __future__ import annotations

from exporters.slm.tasks.logtriage_family import Family, FieldMaker, _f

_WARN_SITES = (
    "kernel/time/timer.c:1738 __mod_timer+0x2c4/0x3d0",
    "mm/page_alloc.c:5527 __alloc_pages+0x1a8/0x2f4",
    "net/sched/sch_generic.c:477 dev_watchdog+0x2a0/0x2a8",
    "kernel/workqueue.c:3066 check_flush_dependency+0x110/0x120",
    "fs/iomap/buffered-io.c:1022 iomap_page_release+0x118/0x130",
)  # fmt: skip
_MOD_SITES = (
    "drivers/gpu/drm/vc4/vc4_hdmi.c:1224 vc4_hdmi_encoder_post_crtc_disable+0x60/0x80 [vc4]",
    "drivers/net/wireless/broadcom/brcm80211/brcmfmac/core.c:1314 "
    "brcmf_netdev_wait_pend8021x+0xc4/0xe8 [brcmfmac]",
    "drivers/media/common/videobuf2/videobuf2-core.c:2096 __vb2_queue_cancel+0x1f4/0x288 [videobuf2_common]",
    "drivers/usb/host/xhci-ring.c:2873 xhci_handle_event+0x6b0/0x1b50 [xhci_hcd]",
)  # fmt: skip

# placeholders of these families (prefixed x_w_: `logtriage_families.fields` merges every catalogue's)
EXTRA_FIELDS: dict[str, FieldMaker] = {
    "x_w_ups": lambda rng: rng.choice(("ups", "myups", "eaton", "apc1500", "rack-ups")),
    "x_w_w1id": lambda rng: f"{rng.getrandbits(48):012x}",
    "x_w_w1fam": lambda rng: rng.choice(("00", "01", "7f", "a0", "ff")),
    "x_w_crc": lambda rng: f"{rng.getrandbits(8):02x}",
    "x_w_hdd": lambda rng: rng.choice(("sda", "sdb")),
    "x_w_attr": lambda rng: rng.randint(90, 99),
    "x_w_md": lambda rng: rng.randint(0, 2),
    "x_w_mdname": lambda rng: rng.choice(("data", "raid1", "storage", "0")),
    "x_w_logdir": lambda rng: rng.choice(("nginx", "grafana", "node-red", "zigbee2mqtt", "edge-agent")),
    "x_w_rdate": lambda rng: f"{rng.randint(1, 28):02d} "
    "{rng.choice(('Jan', 'Mar', 'Jun', 'Sep', 'Nov'))} 2026 "
                           f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}",
    "x_w_wgtry": lambda rng: rng.randint(2, 18),
    "x_w_modem": lambda rng: rng.randint(0, 2),
    "x_w_rat": lambda rng: rng.choice(("umts", "hsdpa", "hspa", "gsm, gprs", "edge")),
    "x_w_ttl": lambda rng: rng.choice((46, 49, 52, 113, 236, 241, 243)),
    "x_w_ipid": lambda rng: rng.randint(1, 65535),
    "x_w_dport": lambda rng: rng.choice((23, 445, 2323, 3389, 5555, 6379, 7547, 8291)),
    "x_w_mac2": lambda rng: ":".join(f"{rng.randint(0, 255):02x}" for _ in range(6)),
    "x_w_sudocmd": lambda rng: rng.choice(("/bin/bash", "/usr/bin/apt update", "/usr/bin/systemctl stop ufw",
                                         "/usr/bin/cat /etc/shadow", "/usr/sbin/reboot")),
    "x_w_mm": lambda rng: f"{rng.randrange(60):02d}",
    "x_w_ss": lambda rng: f"{rng.randrange(60):02d}",
    "x_w_ns": lambda rng: f"{rng.randrange(10**9):09d}",
    "x_w_vid": lambda rng: rng.choice((0, 0, 1, 14)),
    "x_w_dq": lambda rng: rng.choice(("1000000", "2000000", "500000")),
    "x_w_st": lambda rng: rng.choice(("0001", "004b", "00ff", "0043")),
    "x_w_tout": lambda rng: rng.choice(("influxdb", "influxdb_v2", "mqtt", "http", "prometheus_client")),
    "x_w_tin": lambda rng: rng.choice(("mqtt_consumer", "modbus", "snmp", "exec", "http_response")),
    "x_w_kver": lambda rng: rng.choice(("6.1.21-v8+", "6.6.31+rpt-rpi-v8", "6.12.25+rpt-rpi-2712")),
    "x_w_warnsite": lambda rng: rng.choice(_WARN_SITES),
    "x_w_modsite": lambda rng: rng.choice(_MOD_SITES),
}  # fmt: skip

FAMILIES: tuple[Family, ...] = (
    # ---- power ----------------------------------------------------------------------------------
    _f("ups_on_battery", "warning", "power", "restore mains power; shut down before the battery runs out",
       "upsmon",
       "UPS {x_w_ups}@localhost on battery",
       "UPS {x_w_ups}@{host}:3493 on battery"),
    _f("ups_battery_worn", "warning", "power", "replace the UPS battery", "upsmon",
       "UPS {x_w_ups}@localhost battery needs to be replaced",
       "UPS {x_w_ups}@{host}:3493 battery needs to be replaced"),
    # ---- thermal --------------------------------------------------------------------------------
    _f("enclosure_temp_alarm", "warning", "thermal", "improve the enclosure's cooling", "sensord",
       "Sensor alarm: Chip lm75-i2c-1-48: temp1: +{temp_warm}.0 C (high = +70.0 C, hyst = +65.0 C)",
       "Sensor alarm: Chip tmp102-i2c-1-49: temp1: +{temp_warm}.{n} C (high = +70.0 C)"),
    _f("onewire_bus_noise", "warning", "thermal", "check the 1-Wire sensor wiring and pull-up resistor",
       "kernel",
       "w1_slave_driver 28-{x_w_w1id}: Read failed CRC check",
       "w1_master_driver w1_bus_master1: Family {x_w_w1fam} for {x_w_w1fam}.{x_w_w1id}.{x_w_crc} "
       "is not registered."),
    # ---- storage --------------------------------------------------------------------------------
    _f("smart_sectors_reallocated", "warning", "storage", "back up the disk and plan its replacement",
       "smartd",
       "Device: /dev/{x_w_hdd} [SAT], SMART Prefailure Attribute: 5 Reallocated_Sector_Ct "
       "changed from 100 to {x_w_attr}",
       "Device: /dev/{x_w_hdd} [SAT], SMART Usage Attribute: 196 Reallocated_Event_Count changed "
       "from 100 to {x_w_attr}"),
    _f("raid_degraded", "warning", "storage", "replace the missing disk and let the array resync", "mdadm",
       "DegradedArray event detected on md device /dev/md{x_w_md}",
       "DegradedArray event detected on md device /dev/md/{x_w_mdname}"),
    _f("logrotate_insecure_dir", "warning", "storage", "fix the log directory's permissions or set 'su'",
       "logrotate",
       "error: skipping \"/var/log/{x_w_logdir}/{x_w_logdir}.log\" because parent directory has insecure "
       "permissions (It's world writable or writable by group which is not \"root\") Set \"su\" directive "
       "in config file to tell logrotate which user/group should be used for rotation.",
       "error: skipping \"/var/log/{x_w_logdir}/access.log\" because parent directory has insecure "
       "permissions (It's world writable or writable by group which is not \"root\")"),
    # ---- memory ---------------------------------------------------------------------------------
    _f("redis_overcommit_off", "warning", "memory", "set vm.overcommit_memory = 1", "redis-server",
       "{pid}:M {x_w_rdate} # WARNING overcommit_memory is set to 0! Background save may fail under low "
       "memory condition. To fix this issue add 'vm.overcommit_memory = 1' to /etc/sysctl.conf and then "
       "reboot or run the command 'sysctl vm.overcommit_memory=1' for this to take effect.",
       "{pid}:M {x_w_rdate} # WARNING Memory overcommit must be enabled! Without it, a background save or "
       "replication may fail under low memory condition. Being disabled, it can also cause failures "
       "without low memory condition, see https://github.com/jemalloc/jemalloc/issues/1328."),
    # ---- network --------------------------------------------------------------------------------
    _f("wireguard_handshake_retry", "warning", "network", "check the VPN peer and the uplink", "kernel",
       "wireguard: wg0: Handshake for peer {n} ({ip}:51820) did not complete after 5 seconds, "
       "retrying (try {x_w_wgtry})",
       "wireguard: wg0: Retrying handshake with peer {n} ({ip}:51820) because we stopped hearing back "
       "after 15 seconds"),
    _f("lte_network_fallback", "warning", "network", "check the LTE antenna and the cell coverage",
       "ModemManager",
       "[modem{x_w_modem}] access technology changed (lte -> {x_w_rat})",
       "[modem{x_w_modem}] 3GPP registration state changed (home -> roaming)"),
    # ---- time -----------------------------------------------------------------------------------
    _f("clock_jump_detected", "warning", "time", "find what else is setting the system clock", "chronyd",
       "Forward time jump detected!",
       "Backward time jump detected!"),
    _f("ntp_falseticker", "warning", "time", "check the time sources' configuration", "chronyd",
       "Can't synchronise: no majority",
       "Detected falseticker {ip}",
       "Detected falseticker ntp{n}.{domain}"),
    # ---- usb ------------------------------------------------------------------------------------
    _f("usb_not_top_speed", "warning", "usb", "connect the device to a high-speed port or hub", "kernel",
       "usb 1-1.{n}: not running at top speed; connect to a high speed hub",
       "usb 2-{n}: not running at top speed; connect to a high speed hub"),
    _f("usb_emi_port_disabled", "warning", "usb", "check usb cabling and shielding against interference",
       "kernel",
       "usb usb1-port{n}: disabled by hub (EMI?), re-enabling...",
       "hub 1-1:1.0: port {n} disabled by hub (EMI?), re-enabling..."),
    # ---- security -------------------------------------------------------------------------------
    _f("firewall_probe_blocked", "warning", "security", "review the firewall log for scanning hosts",
       "kernel",
       "[UFW BLOCK] IN={eth} OUT= MAC={mac}:{x_w_mac2}:08:00 SRC={ip} DST={gw} LEN=44 TOS=0x00 PREC=0x00 "
       "TTL={x_w_ttl} ID={x_w_ipid} PROTO=TCP SPT={port} DPT={x_w_dport} WINDOW=1024 RES=0x00 SYN URGP=0",
       "nft input drop: IN={eth} OUT= MAC={mac}:{x_w_mac2}:08:00 SRC={ip} DST={gw} LEN=60 TOS=0x00 "
       "PREC=0x00 TTL={x_w_ttl} ID={x_w_ipid} DF PROTO=TCP SPT={port} DPT={x_w_dport} "
       "WINDOW=29200 RES=0x00 SYN URGP=0"),
    _f("sudo_denied", "warning", "security", "review who tried to use sudo", "sudo",
       "{user} : 3 incorrect password attempts ; TTY=pts/{n} ; PWD=/home/{user} ; USER=root ; "
       "COMMAND={x_w_sudocmd}",
       "{baduser} : user NOT in sudoers ; TTY=pts/{n} ; PWD=/home/{baduser} ; USER=root ; "
       "COMMAND={x_w_sudocmd}",
       "pam_unix(sudo:auth): authentication failure; logname={user} uid=1000 euid=0 tty=/dev/pts/{n} "
       "ruser={user} rhost=  user={user}"),
    # ---- service --------------------------------------------------------------------------------
    _f("systemd_unit_obsolete_setting", "warning", "service", "update the unit file", "systemd",
       "/lib/systemd/system/{unit}.service:{n2}: PIDFile= references a path below legacy directory "
       "/var/run/, updating /var/run/{unit}.pid \u2192 /run/{unit}.pid; please update the unit "
       "file accordingly.",
       "/etc/systemd/system/{unit}.service:{n2}: Standard output type syslog is obsolete, automatically "
       "updating to journal. Please update your unit file, and consider removing the setting altogether.",
       "{unit}.service: Unit configured to use KillMode=none. This is unsafe, as it disables systemd's "
       "process lifecycle management for the service. Please update the service to use a safer "
       "KillMode=, such as 'mixed' or 'control-group'."),
    _f("postgres_checkpoints_frequent", "warning", "service", "raise max_wal_size", "postgres",
       "LOG:  checkpoints are occurring too frequently ({n2} seconds apart)",
       "{date} 03:{x_w_mm}:{x_w_ss} UTC [{pid}] LOG:  checkpoints are occurring too frequently "
       "({n} seconds apart)"),
    _f("docker_no_memory_cgroup", "warning", "service", "enable the memory cgroup on the kernel command line",
       "dockerd",
       "time=\"{date}T10:{x_w_mm}:{x_w_ss}.{x_w_ns}Z\" level=warning msg=\"Your kernel does not "
       "support cgroup "
       "memory limit\"",
       "time=\"{date}T10:{x_w_mm}:{x_w_ss}.{x_w_ns}Z\" level=warning msg=\"Your kernel does not support swap "
       "memory limit\""),
    _f("camera_frame_stall", "warning", "service", "check the camera cable and sensor connector",
       "libcamera",
       "[0:{x_w_mm}:{x_w_ss}.{x_w_ns}] [{pid}]  WARN V4L2 v4l2_videodevice.cpp:{n3} "
       "/dev/video{x_w_vid}[{n2}:cap]: "
       "Dequeue timer of {x_w_dq}.00us has expired!",
       "WARN V4L2 v4l2_videodevice.cpp:{n3} /dev/video0[{n2}:cap]: Dequeue timer of 1000000.00us "
       "has expired!"),
    # ---- scheduler ------------------------------------------------------------------------------
    _f("cron_output_undelivered", "warning", "scheduler", "install an MTA or send the job's output to a log",
       "CRON",
       "(CRON) info (No MTA installed, discarding output)",
       "({user}) MAIL (mailed {n3} bytes of output but got status 0x{x_w_st} from MTA#012)"),
    # ---- messaging ------------------------------------------------------------------------------
    _f("telegraf_slow_pipeline", "warning", "messaging", "check the metrics backend's latency", "telegraf",
       "{date}T10:{x_w_mm}:{x_w_ss}Z W! [agent] [\"outputs.{x_w_tout}\"] did not complete within "
       "its flush interval",
       "{date}T10:{x_w_mm}:{x_w_ss}Z W! [inputs.{x_w_tin}] Collection took longer than expected; "
       "not complete "
       "after interval of 10s"),
    # ---- watchdog -------------------------------------------------------------------------------
    _f("watchdog_timeout_not_applied", "warning", "watchdog", "check the watchdog timeout setting", "systemd",
       "Modifying watchdog timeout is not supported, reusing the programmed timeout.",
       "Modifying watchdog hardware timeout is not supported, reusing the programmed timeout."),
    # ---- kernel ---------------------------------------------------------------------------------
    _f("kernel_warn_splat", "warning", "kernel", "update the kernel and report the warning", "kernel",
       "WARNING: CPU: {cpu} PID: {pid} at {x_w_warnsite}",
       "WARNING: CPU: {cpu} PID: {pid} at {x_w_modsite}"),
)  # fmt: skip
