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
