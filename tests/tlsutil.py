"""Make a throwaway CA, server and client certificates for TLS/mTLS broker tests."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").chmod(0o644)  # mosquitto drops to its own user before reading


def make_pki(d: Path, client_cn: str = "client") -> dict[str, Path]:
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edge-test-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write(d / "ca", ca_key, ca)

    def leaf(name: str, cn: str, server: bool) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )
        if server:
            b = b.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        _write(d / name, key, b.sign(ca_key, hashes.SHA256()))

    leaf("server", "localhost", True)
    leaf("client", client_cn, False)
    return {
        "ca": d / "ca.crt",
        "server_crt": d / "server.crt",
        "server_key": d / "server.key",
        "client_crt": d / "client.crt",
        "client_key": d / "client.key",
    }


def issue_client(pki: dict[str, Path], cn: str, out: Path) -> tuple[Path, Path]:
    """A client certificate with CN=`cn` from the same test CA (its key is ca.key next to ca.crt)."""
    ca_cert = x509.load_pem_x509_certificate(pki["ca"].read_bytes())
    ca_key = serialization.load_pem_private_key(pki["ca"].with_suffix(".key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    crt, pem = out / f"{cn}.crt", out / f"{cn}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return crt, pem


DEPLOY_MOSQUITTO = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto"


def deploy_broker_conf(workdir: Path, pki: dict[str, Path], port: int) -> str:
    """deploy/mosquitto/edge-agent.conf as shipped, pointed at this test's PKI, ACL copy and port."""
    acl = workdir / "edge-agent.acl"
    acl.write_text((DEPLOY_MOSQUITTO / "edge-agent.acl").read_text())
    acl.chmod(0o644)
    conf = (DEPLOY_MOSQUITTO / "edge-agent.conf").read_text()
    for old, new in {
        "/etc/mosquitto/edge-agent.acl": str(acl),
        "/etc/mosquitto/certs/ca.crt": str(pki["ca"]),
        "/etc/mosquitto/certs/server.crt": str(pki["server_crt"]),
        "/etc/mosquitto/certs/server.key": str(pki["server_key"]),
        "listener 8883": f"listener {port} 127.0.0.1",
    }.items():
        assert old in conf, f"deploy/mosquitto/edge-agent.conf changed: {old} is gone"
        conf = conf.replace(old, new)
    return conf
