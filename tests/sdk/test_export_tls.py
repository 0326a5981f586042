"""The SDK's sender honours the OTEL_EXPORTER_OTLP_* transport variables: CA certificate, client
certificate and key (mTLS), compression and timeout.

Real parts: a CA, server and client certificates generated here (``cryptography``), a real TLS
OTLP/HTTP receiver and a real TLS gRPC server on 127.0.0.1, the SDK exporting to them over
``requests`` and ``grpcio``, spool files on a real directory.
"""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import logging
import ssl
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import agentops_otel as ao
from agentops_otel.config import Configuration
from agentops_otel.delivery import Delivery, GrpcSender, HttpSender, Transport, make_sender
from agentops_otel.spool import DiskSpool, Target
from tests.sdk import test_spool
from tests.sdk.test_spool import request_with, span_names, wait
from tests.support.otlp_sink import decode_request

sdk_otlp = test_spool.sdk_otlp  # the fixture: a fresh Client exporting over real OTLP, shut down after
x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


# --- certificates -----------------------------------------------------------------------------------
@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    ca: bool = False,
    ip: bool = False,
) -> x509.Certificate:
    # Validity far around any test run: the tests must not depend on the clock.
    start = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    end = datetime.datetime(2999, 1, 1, tzinfo=datetime.timezone.utc)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    where = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("agentops-otel test CA", ca_key, None, ca=True)
    files = {}
    for role, ip in (("server", True), ("client", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(f"agentops-otel test {role}", key, (ca.subject, ca_key), ip=ip)
        files[f"{role}_cert"] = where / f"{role}.pem"
        files[f"{role}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{role}_key"] = where / f"{role}.key"
        files[f"{role}_key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    (where / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return Pki(ca=where / "ca.pem", **files)


# --- a TLS OTLP/HTTP receiver ---------------------------------------------------------------------
class TlsReceiver:
    """OTLP/HTTP over TLS on 127.0.0.1; keeps each request's headers and decoded span names."""

    def __init__(self, pki: Pki, require_client_cert: bool = False) -> None:
        self.received: list[tuple[dict[str, str], list[str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                names = [s["name"] for s in decode_request(body, None)]
                receiver.received.append((dict(self.headers), names))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.server_cert, pki.server_key)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(pki.ca)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}/v1/traces"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def span_names(self) -> list[str]:
        return [name for _, names in self.received for name in names]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def tls_receiver(pki: Pki) -> Iterator[TlsReceiver]:
    receiver = TlsReceiver(pki)
    yield receiver
    receiver.close()


def _session_spans(session: ao.Session) -> None:
    ao.record(ao.ActionEvent(action_type="tls-check"))
    session.end_session("Success")


# --- TLS with a custom CA -------------------------------------------------------------------------
def test_spans_arrive_over_tls_trusting_the_ca_from_otel_exporter_otlp_certificate(
    sdk_otlp, tls_receiver, pki, monkeypatch, spool_dir
):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(pki.ca))
    client, session = sdk_otlp(endpoint=tls_receiver.url, endpoint_is_traces_url=True)
    assert client.config.exporter_certificate == str(pki.ca)
    _session_spans(session)
    wait(lambda: len(tls_receiver.span_names()) >= 2, "spans never arrived over TLS")
    assert "tls-check" in tls_receiver.span_names()
    assert not list(spool_dir.glob("*.otlp"))


def test_without_the_ca_the_spans_are_spooled_with_one_warning_and_delivered_with_it_later(
    sdk_otlp, tls_receiver, pki, spool_dir, caplog
):
    with caplog.at_level(logging.WARNING, logger="agentops_otel"):
        _, session = sdk_otlp(endpoint=tls_receiver.url, endpoint_is_traces_url=True, max_wait_time=3000)
        _session_spans(session)
        wait(lambda: "tls-check" in span_names(spool_dir), "the refused spans were not spooled")
    warnings = [r.getMessage() for r in caplog.records if "cannot deliver" in r.getMessage()]
    assert len(warnings) == 1, caplog.text
    assert "TLS certificate is not trusted" in warnings[0] and "OTEL_EXPORTER_OTLP_CERTIFICATE" in warnings[0]
    assert tls_receiver.received == []
    # The spool file holds no TLS material: a later sender configured with the CA delivers it.
    for path in spool_dir.glob("*.otlp"):
        assert b"BEGIN" not in path.read_bytes() and str(pki.ca).encode() not in path.read_bytes()
    spool = DiskSpool(spool_dir, 1 << 30, 3600)
    delivery = Delivery(spool, max_backoff_s=1, transport=Transport(certificate=str(pki.ca)))
    delivery.deliver_once()
    assert "tls-check" in tls_receiver.span_names()
    assert not list(spool_dir.glob("*.otlp"))


def test_a_traces_specific_certificate_wins_and_a_missing_file_is_one_warning(pki, tmp_path, caplog):
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": str(pki.ca),
        "OTEL_EXPORTER_OTLP_CERTIFICATE": str(tmp_path / "elsewhere.pem"),
    }
    assert Configuration.from_env(env).exporter_certificate == str(pki.ca)
    with caplog.at_level(logging.WARNING, logger="agentops_otel"):
        config = Configuration.from_env({"OTEL_EXPORTER_OTLP_CLIENT_KEY": str(tmp_path / "gone.key")})
    assert config.exporter_client_key is None
    assert len(caplog.records) == 1
    assert "OTEL_EXPORTER_OTLP_CLIENT_KEY" in caplog.text and "not a readable file" in caplog.text
    assert "using no client key" in caplog.text


# --- mTLS -----------------------------------------------------------------------------------------
def test_a_client_key_without_a_client_certificate_is_one_warning_and_ignored(pki, caplog):
    with caplog.at_level(logging.WARNING, logger="agentops_otel"):
        config = Configuration.from_env({"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY": str(pki.client_key)})
    assert config.exporter_client_key is None
    assert len(caplog.records) == 1 and "no client certificate is set" in caplog.text
    assert str(pki.client_key) not in caplog.text
    both = Configuration.from_env(
        {"OTEL_EXPORTER_OTLP_CLIENT_KEY": str(pki.client_key)}, exporter_client_certificate=str(pki.client_cert)
    )
    assert (both.exporter_client_certificate, both.exporter_client_key) == (str(pki.client_cert), str(pki.client_key))


def test_mtls_client_certificate_and_key_are_presented(pki, monkeypatch):
    receiver = TlsReceiver(pki, require_client_cert=True)
    try:
        target = Target(receiver.url, "http/protobuf")
        without = HttpSender(target, Transport(certificate=str(pki.ca))).send(request_with(1))
        assert not without.ok and without.retry  # refused in the handshake: kept for a retry
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(pki.ca))
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", str(pki.client_cert))
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", str(pki.client_key))
        transport = Transport.of(Configuration.from_env())
        assert HttpSender(target, transport).send(request_with(2)).ok
        assert len(receiver.span_names()) == 2
    finally:
        receiver.close()


# --- compression and timeout ----------------------------------------------------------------------
def test_gzip_compression_sends_content_encoding_gzip_with_the_same_spans(sdk_otlp, tls_receiver, pki, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "none")  # the traces-specific one wins
    _, session = sdk_otlp(endpoint=tls_receiver.url, endpoint_is_traces_url=True, exporter_certificate=str(pki.ca))
    _session_spans(session)
    wait(lambda: "tls-check" in tls_receiver.span_names(), "gzip spans never arrived")
    assert all(headers.get("Content-Encoding") == "gzip" for headers, _ in tls_receiver.received)
    plain = TlsReceiver(pki)
    try:
        request = request_with(3)
        HttpSender(Target(plain.url, "http/protobuf"), Transport(certificate=str(pki.ca), gzip=True)).send(request)
        HttpSender(Target(plain.url, "http/protobuf"), Transport(certificate=str(pki.ca))).send(request)
        (zipped_headers, zipped), (plain_headers, unzipped) = plain.received
        assert zipped == unzipped and len(zipped) == 3
        assert zipped_headers.get("Content-Encoding") == "gzip" and "Content-Encoding" not in plain_headers
    finally:
        plain.close()


def test_bad_compression_and_timeout_values_are_one_warning_each_with_the_default(caplog):
    with caplog.at_level(logging.WARNING, logger="agentops_otel"):
        config = Configuration.from_env(
            {"OTEL_EXPORTER_OTLP_COMPRESSION": "brotli", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "soon"}
        )
    assert (config.exporter_compression, config.exporter_timeout) == ("none", 10_000)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert any("OTEL_EXPORTER_OTLP_COMPRESSION" in m and "default none" in m for m in messages)
    assert any("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT" in m and "default 10000" in m for m in messages)
    with pytest.raises(ValueError, match="exporter_compression"):
        Configuration(exporter_compression="zstd")


def test_the_timeout_is_read_in_milliseconds_and_given_to_each_send(sdk_otlp, tls_receiver, pki, monkeypatch):
    env = {"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "750"}
    assert Configuration.from_env(env).exporter_timeout == 750  # the traces-specific one wins
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")
    seen: list[object] = []
    import requests

    real_send = requests.Session.send

    def send(self, request, **kwargs):  # records the arguments; the real request still goes out
        seen.append(kwargs.get("timeout"))
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    _, session = sdk_otlp(endpoint=tls_receiver.url, endpoint_is_traces_url=True, exporter_certificate=str(pki.ca))
    _session_spans(session)
    wait(lambda: "tls-check" in tls_receiver.span_names(), "spans never arrived")
    assert seen and set(seen) == {2.5}
    grpc_sender = make_sender(Target("http://127.0.0.1:1", "grpc"), Transport.of(Configuration.from_env()))
    assert isinstance(grpc_sender, GrpcSender) and grpc_sender._timeout == 2.5


# --- gRPC -----------------------------------------------------------------------------------------
def test_grpc_over_tls_with_the_ca_and_client_certificate(pki):
    import grpc

    received: list[tuple[bytes, dict[str, str]]] = []

    def export(request: bytes, context: grpc.ServicerContext) -> bytes:
        received.append((request, dict(context.invocation_metadata())))
        return b""

    handler = grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        {"Export": grpc.unary_unary_rpc_method_handler(export)},  # bytes in, bytes out
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    credentials = grpc.ssl_server_credentials(
        [(pki.server_key.read_bytes(), pki.server_cert.read_bytes())],
        root_certificates=pki.ca.read_bytes(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        target = Target(f"https://127.0.0.1:{port}", "grpc")
        untrusted = GrpcSender(target, Transport(timeout_s=5)).send(request_with(1))
        assert not untrusted.ok and untrusted.retry, untrusted
        assert "TLS certificate is not trusted" in untrusted.reason, untrusted.reason
        config = Configuration.from_env(
            {
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki.ca),
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": str(pki.client_cert),
                "OTEL_EXPORTER_OTLP_CLIENT_KEY": str(pki.client_key),
                "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            }
        )
        request = request_with(2)
        sender = GrpcSender(target, Transport.of(config))
        assert sender.send(request).ok
        assert received[-1][0] == request  # the same bytes, after gzip on the wire
        # http:// with OTEL_EXPORTER_OTLP_INSECURE=false asks for TLS too
        insecure_false = Configuration.from_env(
            {
                "OTEL_EXPORTER_OTLP_INSECURE": "false",
                "OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki.ca),
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": str(pki.client_cert),
                "OTEL_EXPORTER_OTLP_CLIENT_KEY": str(pki.client_key),
            }
        )
        assert insecure_false.exporter_insecure is False
        plain_url = GrpcSender(Target(f"http://127.0.0.1:{port}", "grpc"), Transport.of(insecure_false))
        assert plain_url.send(request).ok
    finally:
        server.stop(None)
