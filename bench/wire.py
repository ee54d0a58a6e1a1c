"""Just enough of the MySQL client protocol to open an idle session and drop it again.

The session holder keeps thousands of idle sessions open. A full driver connection costs a few
hundred KiB of buffers in Python (5,000 of them would need over a gigabyte), while all an idle
session needs is a socket that went through the handshake. The handshake packet also carries the
thread id, so no statement is needed to learn it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
from dataclasses import dataclass

CLIENT_LONG_PASSWORD = 1
CLIENT_LONG_FLAG = 1 << 2
CLIENT_CONNECT_WITH_DB = 1 << 3
CLIENT_PROTOCOL_41 = 1 << 9
CLIENT_TRANSACTIONS = 1 << 13
CLIENT_SECURE_CONNECTION = 1 << 15
CLIENT_PLUGIN_AUTH = 1 << 19

NATIVE_PASSWORD = b"mysql_native_password"
UTF8MB4_GENERAL_CI = 45
MAX_PACKET = 1 << 24
COM_QUIT = b"\x01"


class WireError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Greeting:
    thread_id: int
    capabilities: int
    scramble: bytes
    plugin: bytes


def native_password(password: str, scramble: bytes) -> bytes:
    """mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw)))."""
    if not password:
        return b""
    stage1 = hashlib.sha1(password.encode()).digest()  # noqa: S324 - the protocol's own hash
    stage2 = hashlib.sha1(stage1).digest()  # noqa: S324
    mask = hashlib.sha1(scramble + stage2).digest()  # noqa: S324
    return bytes(a ^ b for a, b in zip(stage1, mask, strict=True))


def parse_greeting(payload: bytes) -> Greeting:
    if not payload or payload[0] == 0xFF:
        raise WireError(f"server refused the connection: {payload[3:].decode(errors='replace')}")
    if payload[0] != 10:
        raise WireError(f"unexpected handshake protocol {payload[0]}")
    end = payload.index(b"\0", 1)
    pos = end + 1
    thread_id = int.from_bytes(payload[pos : pos + 4], "little")
    pos += 4
    salt = payload[pos : pos + 8]
    pos += 9  # 8 bytes of salt and a filler
    capabilities = int.from_bytes(payload[pos : pos + 2], "little")
    pos += 2 + 1 + 2  # capabilities (low), character set, status
    capabilities |= int.from_bytes(payload[pos : pos + 2], "little") << 16
    pos += 2
    salt_length = payload[pos]
    pos += 1 + 10  # the length, then reserved bytes
    rest = max(13, salt_length - 8)
    salt += payload[pos : pos + rest - 1]  # the last byte of this part is a NUL
    pos += rest
    plugin = NATIVE_PASSWORD
    if capabilities & CLIENT_PLUGIN_AUTH and pos < len(payload):
        plugin = payload[pos : payload.index(b"\0", pos)] if b"\0" in payload[pos:] else payload[pos:]
    return Greeting(thread_id, capabilities, salt, plugin)


class PacketSocket:
    """Framed packets (3-byte length, 1-byte sequence) over a non-blocking socket in the event loop."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._loop = asyncio.get_running_loop()

    async def _exactly(self, count: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < count:
            chunk = await self._loop.sock_recv(self.sock, count - len(chunks))
            if not chunk:
                raise WireError("server closed the connection during the handshake")
            chunks += chunk
        return bytes(chunks)

    async def read(self) -> tuple[int, bytes]:
        header = await self._exactly(4)
        length = int.from_bytes(header[:3], "little")
        return header[3], await self._exactly(length)

    async def write(self, sequence: int, payload: bytes) -> None:
        header = len(payload).to_bytes(3, "little") + bytes([sequence & 0xFF])
        await self._loop.sock_sendall(self.sock, header + payload)


def handshake_response(greeting: Greeting, user: str, password: str, database: str | None) -> bytes:
    wanted = (
        CLIENT_LONG_PASSWORD
        | CLIENT_LONG_FLAG
        | CLIENT_PROTOCOL_41
        | CLIENT_TRANSACTIONS
        | CLIENT_SECURE_CONNECTION
        | CLIENT_PLUGIN_AUTH
        | (CLIENT_CONNECT_WITH_DB if database else 0)
    )
    capabilities = wanted & greeting.capabilities
    auth = native_password(password, greeting.scramble)
    parts = [
        capabilities.to_bytes(4, "little"),
        MAX_PACKET.to_bytes(4, "little"),
        bytes([UTF8MB4_GENERAL_CI]),
        bytes(23),
        user.encode() + b"\0",
        bytes([len(auth)]) + auth,
    ]
    if capabilities & CLIENT_CONNECT_WITH_DB and database:
        parts.append(database.encode() + b"\0")
    if capabilities & CLIENT_PLUGIN_AUTH:
        parts.append(NATIVE_PASSWORD + b"\0")
    return b"".join(parts)


async def open_session(
    host: str, port: int, user: str, password: str, database: str | None
) -> tuple[socket.socket, int]:
    """Connect and authenticate; the open socket and the session's thread id (the caller bounds it)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, (host, port))
        wire = PacketSocket(sock)
        sequence, payload = await wire.read()
        greeting = parse_greeting(payload)
        await wire.write(sequence + 1, handshake_response(greeting, user, password, database))
        sequence, payload = await wire.read()
        if payload[:1] == b"\xfe":  # auth switch request: answer the new scramble
            plugin_end = payload.index(b"\0", 1)
            if payload[1:plugin_end] != NATIVE_PASSWORD:
                raise WireError(f"unsupported auth plugin {payload[1:plugin_end]!r}")
            scramble = payload[plugin_end + 1 :].rstrip(b"\0")
            await wire.write(sequence + 1, native_password(password, scramble))
            sequence, payload = await wire.read()
        if payload[:1] != b"\x00":
            raise WireError(f"login failed: {payload[9:].decode(errors='replace')}")
    except BaseException:
        sock.close()
        raise
    return sock, greeting.thread_id


def close_session(sock: socket.socket) -> None:
    """Say goodbye (COM_QUIT) if the server still listens, then close; a killed session just closes."""
    with contextlib.suppress(OSError):
        sock.send(len(COM_QUIT).to_bytes(3, "little") + b"\x00" + COM_QUIT)
    sock.close()


async def send_query(sock: socket.socket, statement: str) -> None:
    """Send COM_QUERY and leave its answer unread: the session shows the statement running (a
    ``SELECT SLEEP(n)`` keeps it so for n seconds, or until it is killed)."""
    payload = b"\x03" + statement.encode()
    header = len(payload).to_bytes(3, "little") + b"\x00"
    await asyncio.get_running_loop().sock_sendall(sock, header + payload)
