"""The message families of the log-triage task: what a device's logs say, and what each means.

A family is one kind of event (an sshd login accepted, an EXT4 error, the Raspberry Pi firmware's
under-voltage warning, ...) with a few wordings and varied fields, labelled once with its severity,
component and action. The label comes from the event's meaning: the same programs (kernel, systemd,
sshd, mosquitto, ...) and the same words ("error", "failed", "connection") occur at every severity,
so no one token gives the answer away, and a model that has learnt only the training families must
read a held-out family's meaning to triage it.

Severity: `ok` is routine (nothing to do), `warning` is degraded but working (watch it, act soon),
`fault` is broken or losing data (act now).
"""

from __future__ import annotations

import random
import string

from exporters.slm.tasks import logtriage_more_fault, logtriage_more_ok, logtriage_more_warning
from exporters.slm.tasks.logtriage_family import COMPONENTS, SEVERITIES, Family, FieldMaker, Severity, _f

__all__ = ["COMPONENTS", "FAMILIES", "SEVERITIES", "Family", "Severity", "fields", "hostname"]

_CORE: tuple[Family, ...] = (
    # ---- ok: routine, nothing to do -------------------------------------------------------------
    _f("ssh_accepted", "ok", "security", "none", "sshd",
       "Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:{hash}",
       "Accepted password for {user} from {ip} port {port} ssh2"),
    _f("session_opened", "ok", "security", "none", "sshd",
       "pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)",
       "pam_unix(sshd:session): session closed for user {user}"),
    _f("cron_run", "ok", "scheduler", "none", "CRON",
       "({user}) CMD ({cmd})",
       "pam_unix(cron:session): session opened for user {user}(uid={uid}) by (uid=0)"),
    _f("ntp_synced", "ok", "time", "none", "systemd-timesyncd",
       "Initial synchronization to time server {ip}:123 (ntp{n}.{domain}).",
       "Synchronized to time server {ip}:123 (ntp{n}.{domain})."),
    _f("service_started", "ok", "service", "none", "systemd",
       "Started {desc}.",
       "{unit}.service: Deactivated successfully.",
       "Reached target {target}."),
    _f("dhcp_lease", "ok", "network", "none", "dhcpcd",
       "{iface}: leased {ip} for {secs} seconds",
       "{iface}: adding default route via {gw}",
       "{iface}: rebinding lease of {ip}"),
    _f("usb_connected", "ok", "usb", "none", "kernel",
       "usb 1-1.{n}: New USB device found, idVendor={hex4}, idProduct={hex4b}, bcdDevice= 1.00",
       "usb 1-1.{n}: new high-speed USB device number {n2} using dwc_otg",
       "usb 1-1.{n}: Product: {product}"),
    _f("mqtt_connected", "ok", "messaging", "none", "mosquitto",
       "New client connected from {ip}:{port} as {client} (p5, c1, k60, u'{user}').",
       "New connection from {ip}:{port} on port 8883."),
    _f("link_up", "ok", "network", "none", "kernel",
       "{eth}: Link is Up - 1Gbps/Full - flow control rx/tx",
       "IPv6: ADDRCONF(NETDEV_CHANGE): {iface}: link becomes ready"),
    _f("fs_mounted", "ok", "storage", "none", "kernel",
       "EXT4-fs ({dev}): mounted filesystem with ordered data mode. Quota mode: none.",
       "EXT4-fs ({dev}): re-mounted. Opts: (null). Quota mode: none."),
    _f("fsck_clean", "ok", "storage", "none", "systemd-fsck",
       "/dev/{dev}: clean, {big}/{big2} files, {big3}/{big4} blocks",
       "fsck.fat 4.2 (2021-01-31) /dev/{dev}: 0 errors, {n} files, {big} clusters"),
    _f("backup_done", "ok", "storage", "none", "backup.sh",
       "backup of /home completed: {big} files, {mb} MB in {secs} s, 0 failed",
       "rsync to {host}:/srv/backup finished, {mb} MB transferred"),
    _f("wifi_connected", "ok", "network", "none", "wpa_supplicant",
       "{wlan}: CTRL-EVENT-CONNECTED - Connection to {mac} completed [id=0 id_str=]",
       "{wlan}: WPA: Key negotiation completed with {mac} [PTK=CCMP GTK=CCMP]"),
    _f("temp_normal", "ok", "thermal", "none", "thermal-monitor",
       "SoC temperature {temp_ok}'C, fan at {pct_low}%",
       "cpu thermal zone at {temp_ok}.{n} C, within limits"),
    _f("boot_finished", "ok", "service", "none", "systemd",
       "Startup finished in {n}.{n2}s (kernel) + {secs}.{n}s (userspace) = {secs}.{n2}s.",
       "Reached target Multi-User System."),
    _f("upgrade_done", "ok", "service", "none", "unattended-upgrade",
       "Packages that were upgraded: {pkg} {pkg2}",
       "All upgrades installed"),
    # ---- warning: degraded but working, watch it -------------------------------------------------
    _f("undervoltage", "warning", "power", "check the power supply and cable", "kernel",
       "hwmon hwmon1: Undervoltage detected!",
       "Under-voltage detected! (0x00050005)",
       "rpi_firmware_get_throttled: Under-voltage detected! (0x{hex4})"),
    _f("thermal_throttle", "warning", "thermal", "improve cooling", "kernel",
       "cpu{cpu}: Core temperature above threshold, cpu clock throttled (total events = {big})",
       "cpu{cpu}: Package temperature above threshold, cpu clock throttled (total events = {big})",
       "rpi_firmware_get_throttled: Soft temperature limit has occurred (0x{hex4})"),
    _f("temp_high", "warning", "thermal", "improve cooling", "thermal-monitor",
       "SoC temperature {temp_warm}'C, approaching the throttle limit",
       "cpu thermal zone at {temp_warm}.{n} C, fan at 100%"),
    _f("disk_almost_full", "warning", "storage", "free disk space", "disk-monitor",
       "/dev/{dev} usage at {pct_high}% ({mb} MB free)",
       "filesystem / is {pct_high}% full, {mb} MB left"),
    _f("ssh_failed", "warning", "security", "review ssh access", "sshd",
       "Failed password for invalid user {baduser} from {ip} port {port} ssh2",
       "Invalid user {baduser} from {ip} port {port}",
       "Failed password for {user} from {ip} port {port} ssh2"),
    _f("fail2ban", "warning", "security", "review ssh access", "fail2ban.actions",
       "[sshd] Ban {ip}",
       "[sshd] Found {ip} - {n} failures in the last 600 seconds"),
    _f("ntp_unreachable", "warning", "time", "check the time server is reachable", "systemd-timesyncd",
       "Timed out waiting for reply from {ip}:123 (ntp{n}.{domain}).",
       "No network connectivity, watching for changes."),
    _f("mqtt_timeout", "warning", "messaging", "check the client's network", "mosquitto",
       "Client {client} has exceeded timeout, disconnecting.",
       "Socket error on client {client}, disconnecting.",
       "Outgoing messages are being dropped for client {client}."),
    _f("wifi_disconnected", "warning", "network", "check the wireless signal", "wpa_supplicant",
       "{wlan}: CTRL-EVENT-DISCONNECTED bssid={mac} reason=4 locally_generated=1",
       "{wlan}: CTRL-EVENT-BEACON-LOSS",
       "{wlan}: CTRL-EVENT-SIGNAL-CHANGE above=0 signal=-{dbm} noise=-92 txrate=6000"),
    _f("usb_reset", "warning", "usb", "check the usb device and cable", "kernel",
       "usb 1-1.{n}: reset high-speed USB device number {n2} using dwc_otg",
       "usb 1-1.{n}: device descriptor read/64, error -71"),
    _f("memory_low", "warning", "memory", "reduce memory use", "memory-monitor",
       "available memory low: {mb} MB of {total} MB free, swap {pct_high}% used",
       "memory pressure: {pct_high}% of RAM in use for {secs} s"),
    _f("mmc_timeout", "warning", "storage", "check the SD card", "kernel",
       "mmc0: Timeout waiting for hardware interrupt.",
       "mmc0: timeout waiting for hardware cmd interrupt."),
    _f("link_down", "warning", "network", "check the network cable", "kernel",
       "{eth}: Link is Down",
       "{eth}: carrier lost"),
    _f("service_restart", "warning", "service", "check the service's log", "systemd",
       "{unit}.service: Scheduled restart job, restart counter is at {n}.",
       "{unit}.service: Service RestartSec=5s expired, scheduling restart."),
    _f("dns_degraded", "warning", "network", "check the DNS server", "systemd-resolved",
       "Using degraded feature set UDP instead of UDP+EDNS0 for DNS server {ip}.",
       "Using degraded feature set TCP instead of UDP for DNS server {ip}."),
    _f("cert_expiring", "warning", "security", "renew the certificate", "cert-check",
       "TLS certificate /etc/ssl/{cert}.crt expires in {n} days",
       "certificate for {host} will expire on {date}"),
    # ---- fault: broken or losing data, act now ---------------------------------------------------
    _f("ext4_error", "fault", "storage", "run fsck and replace the SD card", "kernel",
       "EXT4-fs error (device {dev}): ext4_find_entry:{n3}: inode #{big}: comm {proc}: "
       "reading directory lblock 0",
       "EXT4-fs error (device {dev}): ext4_lookup:{n3}: inode #{big}: comm {proc}: deleted inode referenced"),
    _f("readonly_remount", "fault", "storage", "run fsck and replace the SD card", "kernel",
       "EXT4-fs ({dev}): Remounting filesystem read-only",
       "Aborting journal on device {dev}-8."),
    _f("io_error", "fault", "storage", "replace the disk", "kernel",
       "blk_update_request: I/O error, dev {disk}, sector {big} op 0x0:(READ) flags 0x80700 phys_seg 1",
       "Buffer I/O error on dev {dev}, logical block {big}, lost async page write"),
    _f("mmc_init_error", "fault", "storage", "replace the SD card", "kernel",
       "mmc0: error -110 whilst initialising SD card",
       "mmcblk0: error -84 transferring data, sector {big}, nr {n}, cmd response 0x900"),
    _f("oom_kill", "fault", "memory", "reduce memory use", "kernel",
       "Out of memory: Killed process {pid} ({proc}) total-vm:{big}kB, anon-rss:{big2}kB, file-rss:0kB",
       "{proc} invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0"),
    _f("watchdog_reset", "fault", "watchdog", "check what hung before the reset", "kernel",
       "watchdog: watchdog0: watchdog did not stop!",
       "bcm2835-wdt bcm2835-wdt: Watchdog timer expired, system will reboot"),
    _f("soft_lockup", "fault", "kernel", "check what hung before the reset", "kernel",
       "watchdog: BUG: soft lockup - CPU#{cpu} stuck for {secs}s! [{proc}:{pid}]",
       "rcu: INFO: rcu_sched detected stalls on CPUs/tasks: {{ {cpu}-... }} (detected by {cpu2})"),
    _f("kernel_oops", "fault", "kernel", "update the kernel and report the crash", "kernel",
       "Unable to handle kernel paging request at virtual address {hex}",
       "Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b",
       "Internal error: Oops: 96000005 [#1] PREEMPT SMP"),
    _f("service_failed", "fault", "service", "check the service's log", "systemd",
       "{unit}.service: Failed with result 'exit-code'.",
       "Failed to start {desc}.",
       "{unit}.service: Start request repeated too quickly."),
    _f("segfault", "fault", "service", "update the program and report the crash", "kernel",
       "{proc}[{pid}]: segfault at {hex} ip {hex2} sp {hex3} error 4 in {lib}",
       "traps: {proc}[{pid}] general protection fault ip:{hex2} sp:{hex3} error:0 in {lib}"),
    _f("mqtt_refused", "fault", "messaging", "check the broker credentials", "mosquitto",
       "Client {client} disconnected, not authorised.",
       "Connection error: Connection Refused: bad user name or password.",
       "OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed"),
    _f("overheat_shutdown", "fault", "thermal", "power off and fix cooling", "kernel",
       "thermal thermal_zone0: critical temperature reached ({temp_hot} C), shutting down",
       "thermal_sys: Critical temperature reached ({temp_hot} C), shutting down"),
    _f("usb_overcurrent", "fault", "usb", "disconnect the usb device drawing too much power", "kernel",
       "usb 1-1-port{n}: over-current condition",
       "usb 1-1-port{n}: Cannot enable. Maybe the USB cable is bad?"),
    _f("network_unreachable", "fault", "network", "check the network connection", "edge-agent",
       "connect to {ip} port 8883 failed: Network is unreachable",
       "{iface}: no IPv4 lease, giving up",
       "getaddrinfo for {host} failed: Temporary failure in name resolution"),
    _f("disk_full", "fault", "storage", "free disk space", "edge-agent",
       "write error: No space left on device",
       "cannot write /var/lib/{unit}/state.db: No space left on device"),
    _f("rtc_failure", "fault", "time", "replace the RTC battery", "kernel",
       "rtc-ds1307 1-0068: hctosys: unable to read the hardware clock",
       "rtc-ds1307 1-0068: read error -5"),
)  # fmt: skip

# The 48 families above, then 24 of each severity more (the `logtriage_more_*` catalogues: cameras,
# UPSes, RAID, containers, databases, modems, VPNs, firewalls, ...): 40 kinds of event per severity.
_MORE = (logtriage_more_ok, logtriage_more_warning, logtriage_more_fault)
FAMILIES: tuple[Family, ...] = _CORE + tuple(f for m in _MORE for f in m.FAMILIES)
_EXTRA_FIELDS: dict[str, FieldMaker] = {k: make for m in _MORE for k, make in m.EXTRA_FIELDS.items()}

_USERS = ("pi", "admin", "ops", "deploy", "edge", "root", "backup", "maria", "jonas", "li")
_BAD_USERS = ("test", "oracle", "guest", "ubuntu", "support", "user1", "ftpuser", "postgres")
_UNITS = (
    ("edge-agent", "edge-agent: ONNX inference agent"), ("mosquitto", "Mosquitto MQTT Broker"),
    ("nginx", "A high performance web server"), ("bluetooth", "Bluetooth service"),
    ("docker", "Docker Application Container Engine"), ("ssh", "OpenBSD Secure Shell server"),
    ("grafana-agent", "Grafana Agent"), ("node-red", "Node-RED graphical event wiring tool"),
)  # fmt: skip
_PROCS = ("python3", "node", "edge-agent", "chromium", "mosquitto", "influxd", "java", "ffmpeg")
_CMDS = (
    "/usr/local/bin/backup.sh", "test -x /usr/sbin/anacron || run-parts /etc/cron.daily",
    "python3 /opt/sensors/upload.py", "/usr/bin/certbot renew -q", "logrotate /etc/logrotate.conf",
)  # fmt: skip
_HOSTS = ("raspberrypi", "edge-01", "gw-hall3", "pi-cam2", "sensor-hub", "rpi4-lab", "kiosk-7")
_DEVS = ("mmcblk0p2", "mmcblk0p1", "sda1", "sdb1", "nvme0n1p2")
_PRODUCTS = ("USB2.0 Hub", "FT232R USB UART", "Mass Storage", "USB Camera", "Zigbee Dongle")
_PKGS = ("libssl3", "openssh-server", "raspi-firmware", "tzdata", "curl", "python3.11", "mosquitto")


def hostname(rng: random.Random) -> str:
    return rng.choice(_HOSTS)


def fields(rng: random.Random) -> dict[str, object]:
    """Fresh values for every placeholder a template may use (str.format ignores the unused ones)."""
    unit, desc = rng.choice(_UNITS)
    dev = rng.choice(_DEVS)
    hexs = [f"{rng.getrandbits(48):016x}" for _ in range(3)]
    mac = ":".join(f"{rng.randint(0, 255):02x}" for _ in range(6))
    extra = {k: make(rng) for k, make in _EXTRA_FIELDS.items()}
    return extra | {
        "user": rng.choice(_USERS), "baduser": rng.choice(_BAD_USERS),
        "ip": _ip(rng), "gw": _ip(rng), "port": rng.randint(1024, 65535), "pid": rng.randint(300, 32000),
        "uid": rng.choice((0, 1000, 1001, 1002)),
        "hash": "".join(rng.choices(string.ascii_letters + string.digits, k=16)),
        "cmd": rng.choice(_CMDS), "unit": unit, "desc": desc,
        "target": rng.choice(("Network is Online", "Timers", "Multi-User System", "Sockets")),
        "iface": rng.choice(("eth0", "wlan0", "end0")), "eth": rng.choice(("eth0", "end0", "eth1")),
        "wlan": rng.choice(("wlan0", "wlan1")), "mac": mac,
        "n": rng.randint(1, 9), "n2": rng.randint(2, 40), "n3": rng.randint(1000, 1800),
        "big": rng.randint(1000, 999999), "big2": rng.randint(1000, 999999),
        "big3": rng.randint(1000, 999999), "big4": rng.randint(1000000, 9999999),
        "hex4": f"{rng.getrandbits(16):04x}", "hex4b": f"{rng.getrandbits(16):04x}",
        "hex": hexs[0], "hex2": hexs[1], "hex3": hexs[2],
        "dev": dev, "disk": dev.rstrip("0123456789").removesuffix("p") or dev,
        "client": rng.choice(("sensor", "cam", "plc", "meter", "edge")) + f"-{rng.randint(1, 999):03d}",
        "temp_ok": rng.randint(38, 62), "temp_warm": rng.randint(72, 80), "temp_hot": rng.randint(90, 110),
        "pct_low": rng.randint(0, 40), "pct_high": rng.randint(86, 98), "mb": rng.randint(12, 900),
        "total": rng.choice((512, 1024, 2048, 4096, 8192)), "secs": rng.randint(2, 240),
        "proc": rng.choice(_PROCS), "lib": rng.choice(("libc.so.6", "libonnxruntime.so.1", "ld-linux.so")),
        "cpu": rng.randint(0, 3), "cpu2": rng.randint(0, 3), "dbm": rng.randint(82, 94),
        "domain": rng.choice(("debian.pool.ntp.org", "raspberrypi.pool.ntp.org", "time.cloudflare.com")),
        "cert": rng.choice(("mosquitto", "edge-agent", "server", "broker")), "host": rng.choice(_HOSTS),
        "date": f"2027-0{rng.randint(1, 9)}-{rng.randint(1, 28):02d}",
        "product": rng.choice(_PRODUCTS), "pkg": rng.choice(_PKGS), "pkg2": rng.choice(_PKGS),
    }  # fmt: skip


def _ip(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return f"192.168.{rng.randint(0, 5)}.{rng.randint(2, 254)}"
    return f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
