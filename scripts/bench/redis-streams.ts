import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { closedLoop, openLoop } from '../../services/cli/load-loops.js';
import type { Broker, BrokerOptions } from './brokers.js';
import { startNativeServer } from './native-server.js';

// Short, so a consumer told to stop returns promptly.
const blockMs = 100;

/**
 * Redis Streams as its users run them: `redis-server` with the append-only
 * file flushed every second, on a loopback port. Publish is XADD from N
 * callers (one connection, commands pipelined); end to end is XREADGROUP
 * BLOCK on its own connection with one XACK per batch read.
 */
export async function startRedisStreams(options: BrokerOptions): Promise<Broker> {
  const server = await startNativeServer('redis', 'redis-server', (port, dir) => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
  ]);
  const publisher = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
  const reader = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
  try {
    await publisher.connect();
    await reader.connect();
    const data = randomBytes(options.sizeBytes);
    let runs = 0;
    return {
      name: 'Redis Streams',
      publish: (concurrency, durationMs) =>
        closedLoop({
          concurrency,
          durationMs,
          label: `redis publish c=${concurrency}`,
          progress: options.progress,
          call: async () => {
            await publisher.xadd('bench.publish', '*', 'data', data);
            return 1;
          },
        }),
      async e2e(rate, durationMs) {
        const key = `bench.e2e.${++runs}`;
        await publisher.xgroup('CREATE', key, 'bench', '$', 'MKSTREAM');
        return openLoop({
          rate,
          durationMs,
          drainMs: options.drainMs,
          sizeBytes: options.sizeBytes,
          label: `redis e2e ${rate}/s`,
          progress: options.progress,
          publish: (payload) => publisher.xadd(key, '*', 'data', Buffer.from(payload)),
          async consume(arrived, signal) {
            while (!signal.aborted) {
              const streams = await reader.xreadgroupBuffer(
                'GROUP',
                'bench',
                'reader',
                'COUNT',
                1000,
                'BLOCK',
                blockMs,
                'STREAMS',
                key,
                '>',
              );
              const entries = streams?.[0]?.[1] ?? [];
              for (const [, fields] of entries) arrived(fields![1]!);
              if (entries.length > 0) await reader.xack(key, 'bench', ...entries.map(([id]) => id));
            }
          },
        });
      },
      async stop() {
        publisher.disconnect();
        reader.disconnect();
        await server.stop();
      },
    };
  } catch (error) {
    publisher.disconnect();
    reader.disconnect();
    await server.stop();
    throw error;
  }
}
