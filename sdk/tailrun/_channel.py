"""Creating gRPC channels and call metadata (imported lazily: grpc is not loaded by `import tailrun`)."""
from __future__ import annotations

import grpc

from ._settings import Settings

# Messages up to 64 MiB are accepted; the SDK itself never sends more than a few MiB.
MAX_MESSAGE = 64 * 1024 * 1024
_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.enable_retries", 0),
]


def open_channel(settings: Settings) -> grpc.Channel:
    """A channel to `settings.address`; TLS when a CA file is configured."""
    if not settings.address:
        raise ValueError("no service address configured")
    if settings.ca_file:
        creds = grpc.ssl_channel_credentials(root_certificates=read_ca(settings.ca_file))
        return grpc.secure_channel(settings.address, creds, options=_OPTIONS)
    return grpc.insecure_channel(settings.address, options=_OPTIONS)


def read_ca(path: str) -> bytes:
    """The PEM bytes of the CA file (TAILRUN_CA / ca_file); ValueError naming the file if unusable."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ValueError(f"cannot read the CA file {path!r} (TAILRUN_CA or ca_file=): "
                         f"{exc.strerror or exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ValueError(f"the CA file {path!r} (TAILRUN_CA or ca_file=) holds no PEM certificate")
    return data


def tls_hint(settings: Settings, details: str) -> str:
    """A hint to append to a connection error that looks like a TLS mismatch ("" otherwise)."""
    lowered = details.lower()
    if settings.ca_file and ("handshake" in lowered or "ssl" in lowered or "certificate" in lowered):
        return (f" (TLS with the CA in {settings.ca_file} failed: is the service started with "
                f"--tls-cert, with a certificate signed by that CA for this host name?)")
    if not settings.ca_file and "socket closed" in lowered:
        return (" (if the service uses TLS (--tls-cert), set TAILRUN_CA, or Workspace(ca_file=...), "
                "to the PEM file of the CA that signed its certificate)")
    return ""


def call_metadata(settings: Settings) -> tuple[tuple[str, str], ...]:
    if settings.token:
        return (("authorization", f"Bearer {settings.token}"),)
    return ()
