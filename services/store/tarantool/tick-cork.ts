import type { Socket } from 'node:net';

/**
 * Holds the socket's writes until the current tick (its microtasks included)
 * ends, then sends them together: one system call instead of one per write.
 * The first write of a tick corks; the others join it.
 */
export function corkUntilTickEnds(socket: Socket | undefined): void {
  if (socket === undefined || !socket.writable || socket.writableCorked > 0) return;
  socket.cork();
  process.nextTick(() => socket.uncork());
}
