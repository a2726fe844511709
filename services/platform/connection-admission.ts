import type net from 'node:net';
import type { Logger } from 'pino';
import type { ConnectionLimits } from './config.js';
import type { Metrics } from './metrics.js';

// One warning per interval: a flood must not turn into a flood of log lines.
const refusalLogIntervalMs = 10_000;

/**
 * Counts the open connections of one server, in total and per remote address,
 * and destroys at accept those beyond the caps, so a flood of idle
 * connections cannot take the descriptors a health probe needs.
 */
export function createAdmission(limits: ConnectionLimits, logger?: Logger, metrics?: Metrics) {
  let open = 0;
  const openByAddress = new Map<string, number>();
  let refusedSinceLog = 0;
  let lastLogAt = -Infinity;

  function refuse(socket: net.Socket, limit: 'total' | 'per_address', address: string): void {
    socket.destroy();
    metrics?.connectionsRefused.inc({ limit });
    refusedSinceLog += 1;
    if (Date.now() - lastLogAt < refusalLogIntervalMs) return;
    const [variable, value] =
      limit === 'total' ? ['MAX_CONNECTIONS', limits.maxConnections] : ['MAX_CONNECTIONS_PER_ADDRESS', limits.maxConnectionsPerAddress];
    logger?.warn(
      { remoteAddress: address, open, openFromAddress: openByAddress.get(address) ?? 0, refused: refusedSinceLog },
      `connections refused: ${variable}=${value} reached`,
    );
    lastLogAt = Date.now();
    refusedSinceLog = 0;
  }

  return {
    /** Admits `socket` (counted until it closes) or destroys it; true when admitted. */
    admit(socket: net.Socket): boolean {
      const address = socket.remoteAddress;
      if (address === undefined) {
        socket.destroy();
        return false;
      }
      const fromAddress = openByAddress.get(address) ?? 0;
      const full = open >= limits.maxConnections ? 'total' : fromAddress >= limits.maxConnectionsPerAddress ? 'per_address' : undefined;
      if (full) {
        refuse(socket, full, address);
        return false;
      }
      open += 1;
      openByAddress.set(address, fromAddress + 1);
      metrics?.connectionsOpen.inc();
      socket.once('close', () => {
        open -= 1;
        const left = openByAddress.get(address)! - 1;
        if (left === 0) openByAddress.delete(address);
        else openByAddress.set(address, left);
        metrics?.connectionsOpen.dec();
      });
      return true;
    },
  };
}
