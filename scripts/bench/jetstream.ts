import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { closedLoop, openLoop } from '../../services/cli/load-loops.js';
import type { Broker, BrokerOptions } from './brokers.js';
import { startNativeServer } from './native-server.js';

const streamName = 'BENCH';

/**
 * NATS JetStream as its users run it: `nats-server -js` with the file store
 * on a loopback port. Publish is `await js.publish()` from N callers; end to
 * end is a durable pull consumer (`consume()`, explicit acks, 1000 messages
 * per pull) on a fresh subject.
 */
export async function startJetStream(options: BrokerOptions): Promise<Broker> {
  const server = await startNativeServer('nats', 'nats-server', (port, dir) => ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)]);
  try {
    const connection = await connect({ servers: `127.0.0.1:${server.port}` });
    const manager = await jetstreamManager(connection);
    await manager.streams.add({ name: streamName, subjects: ['bench.>'], storage: StorageType.File });
    const js = jetstream(connection);
    const data = randomBytes(options.sizeBytes);
    let runs = 0;
    return {
      name: 'JetStream',
      publish: (concurrency, durationMs) =>
        closedLoop({
          concurrency,
          durationMs,
          label: `jetstream publish c=${concurrency}`,
          progress: options.progress,
          call: async () => {
            await js.publish('bench.publish', data);
            return 1;
          },
        }),
      async e2e(rate, durationMs) {
        const subject = `bench.e2e.${++runs}`;
        const durable = `e2e${runs}`;
        await manager.consumers.add(streamName, {
          durable_name: durable,
          filter_subject: subject,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
        });
        const consumer = await js.consumers.get(streamName, durable);
        return openLoop({
          rate,
          durationMs,
          drainMs: options.drainMs,
          sizeBytes: options.sizeBytes,
          label: `jetstream e2e ${rate}/s`,
          progress: options.progress,
          publish: (payload) => js.publish(subject, payload),
          async consume(arrived, signal) {
            const messages = await consumer.consume({ max_messages: 1000 });
            signal.addEventListener('abort', () => void messages.stop(), { once: true });
            for await (const message of messages) {
              arrived(message.data);
              message.ack();
            }
          },
        });
      },
      async stop() {
        await connection.drain();
        await server.stop();
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
