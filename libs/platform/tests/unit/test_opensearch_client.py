"""A service reaches an OpenSearch whose security plugin is on (as the OpenSearch Operator runs
it): over HTTPS, trusting only the CA it is given, as its own user. The node here is a stand-in
that checks what a secured node checks first (the TLS handshake, then Basic credentials): what
is tested is what the service's client sends, not what OpenSearch decides."""

from __future__ import annotations

import base64
import datetime
import http.server
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from opensearchpy.exceptions import AuthenticationException
from opensearchpy.exceptions import ConnectionError as NodeUnreachable

from deh_platform.settings import ServiceSettings

pytestmark = pytest.mark.unit

USER, PASSWORD = "practices", "a-password-of-its-own"


def certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, ec.EllipticCurvePrivateKey] | None
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, signer = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signer, hashes.SHA256())


class SecuredNode(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        allowed = self.headers.get("Authorization") == expected
        body = json.dumps(
            {"name": "deh-node-1", "version": {"number": "2.19.6"}} if allowed else {"error": "unauthorized"}
        )
        self.send_response(200 if allowed else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS node on 127.0.0.1 with a certificate signed by a CA of its own: its URL and the CA."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key, node_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("deh-test-ca", ca_key, None)
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "node.pem").write_bytes(
        certificate("127.0.0.1", node_key, ("deh-test-ca", ca_key)).public_bytes(serialization.Encoding.PEM)
    )
    (folder / "node.key").write_bytes(
        node_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SecuredNode)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "node.pem", folder / "node.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", folder / "ca.pem"
    server.shutdown()
    server.server_close()


def settings(url: str, **security: str) -> ServiceSettings:
    return ServiceSettings(service_name="practices", opensearch_url=url, **security)  # type: ignore[arg-type]


async def test_a_service_connects_over_https_as_its_own_user_trusting_the_ca_it_is_given(
    node: tuple[str, Path],
) -> None:
    url, ca = node
    client = settings(
        url, opensearch_user=USER, opensearch_password=PASSWORD, opensearch_ca_file=str(ca)
    ).opensearch_client()
    try:
        assert (await client.info())["name"] == "deh-node-1"
    finally:
        await client.close()


async def test_a_node_whose_certificate_the_given_ca_did_not_sign_is_refused(node: tuple[str, Path]) -> None:
    url, _ = node
    client = settings(url, opensearch_user=USER, opensearch_password=PASSWORD).opensearch_client()
    try:
        with pytest.raises(NodeUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
            await client.info()
    finally:
        await client.close()


async def test_the_wrong_password_is_an_authentication_error(node: tuple[str, Path]) -> None:
    url, ca = node
    client = settings(
        url, opensearch_user=USER, opensearch_password="not-it", opensearch_ca_file=str(ca)
    ).opensearch_client()
    try:
        with pytest.raises(AuthenticationException):
            await client.info()
    finally:
        await client.close()
