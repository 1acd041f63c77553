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
        with open(settings.ca_file, "rb") as fh:
            creds = grpc.ssl_channel_credentials(root_certificates=fh.read())
        return grpc.secure_channel(settings.address, creds, options=_OPTIONS)
    return grpc.insecure_channel(settings.address, options=_OPTIONS)


def call_metadata(settings: Settings) -> tuple[tuple[str, str], ...]:
    if settings.token:
        return (("authorization", f"Bearer {settings.token}"),)
    return ()
