import type { Socket } from 'socket.io';

/**
 * What the gateway writes to one socket, below socket.io's `emit`: messages whose JSON is already
 * made (the stored snapshot bytes, a patch encoded once per version) and the size of what waits
 * to be sent.
 */

/**
 * Sends one event whose argument is already JSON text, without parsing or re-encoding it. This is
 * the socket.io v5 wire form socket.io itself writes for `emit` on the main namespace: an EVENT
 * packet (`2`) carrying the JSON array `[name, argument]`.
 */
export function writeEvent(socket: Socket, name: string, argumentJson: string): void {
  socket.conn.write(`2[${JSON.stringify(name)},${argumentJson}]`);
}

/**
 * Packets queued in the socket's engine while its transport is still busy with earlier ones.
 * Near zero for a client that keeps up; it grows once the kernel buffers toward a client that has
 * stopped reading are full. (`writeBuffer` is engine.io's own queue; its typings mark it private.)
 */
export function bufferedPackets(socket: Socket): number {
  return (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;
}

/**
 * Disconnects `socket` once `maxPackets` wait in its buffer. A graceful close would wait for that
 * buffer to drain — never, for a client that does not read — so the engine connection is closed
 * at once, and the WebSocket terminated, which frees what it holds instead of after the 30 s
 * close handshake a non-reading peer never answers.
 */
export function limitBufferedOutput(socket: Socket, maxPackets: number, onDrop: () => void): void {
  let dropped = false;
  // 'packetCreate' fires for every packet just before it is queued: the check costs one compare,
  // and closing right here makes `maxPackets` an exact bound (the engine ignores writes once it
  // is closed). socket.io iterates a snapshot of a room's sockets, so a socket leaving its rooms
  // in the middle of a broadcast is safe.
  socket.conn.on('packetCreate', () => {
    if (dropped || bufferedPackets(socket) + 1 < maxPackets) return;
    dropped = true;
    onDrop();
    const transport = socket.conn.transport as unknown as { socket?: { terminate?: () => void } };
    socket.conn.close(true);
    transport.socket?.terminate?.();
  });
}

/** engine.io's WebSocket transport, as far as `coalesceWrites` needs it (its typings hide these). */
interface EngineTransport {
  name: string;
  send(packets: unknown[]): void;
  /** The `ws` WebSocket; `_socket` is its TCP socket (ws's own, unexported, since ws 1). */
  socket?: { _socket?: { cork?: () => void; uncork?: () => void } };
}

/** engine.io's socket (`socket.conn`), as far as `coalesceWrites` needs it. */
interface EngineSocket {
  transport: EngineTransport;
  /** Hands the buffered packets to the transport if it is writable; called by every send. */
  flush(): void;
  on(event: 'upgrade', listener: (transport: EngineTransport) => void): void;
}

/**
 * One write to the kernel per socket for the messages of one tick, instead of one per message.
 * A broadcast reaches a socket as one `sendPacket` per message, and each one flushed the engine's
 * buffer at once: the first message of a burst went out alone. The ones after it waited for that
 * write and were then sent as one buffer. `ws` writes each frame on its own, so every message was
 * a system call and, on the wire, a TCP segment of its own. At 1,000 events/s an admin socket gets
 * them ~10 at a time (a dispatcher read's worth), and a gateway made ~26,000 writes a second for
 * 25 admins. Now a send only marks the buffer for flushing at the end of the tick. The flush
 * corks the TCP socket around the transport's frames, so they leave as one `writev`. Nothing
 * waits longer than the current tick. A transport this does not recognise (long-polling, or a
 * `ws` without `_socket`) keeps its writes as they are.
 */
export function coalesceWrites(socket: Socket): void {
  const conn = socket.conn as unknown as EngineSocket;
  const flushNow = conn.flush.bind(conn);
  let scheduled = false;
  conn.flush = () => {
    if (scheduled) return;
    scheduled = true;
    process.nextTick(() => {
      scheduled = false;
      flushNow();
    });
  };
  corkSends(conn.transport);
  conn.on('upgrade', corkSends);
}

function corkSends(transport: EngineTransport): void {
  const tcp = transport.socket?._socket;
  if (transport.name !== 'websocket' || typeof tcp?.cork !== 'function' || typeof tcp.uncork !== 'function') return;
  const send = transport.send.bind(transport);
  transport.send = (packets) => {
    if (packets.length < 2) return send(packets);
    tcp.cork!();
    try {
      send(packets);
    } finally {
      tcp.uncork!();
    }
  };
}
