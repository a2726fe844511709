import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { ConnectRouter, HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { EgressService as UnqualifiedEgressService } from '../../gen/unqualified_aliases_pb.js';
import { durableOwnership } from '../platform/auth/durable-owner.js';
import { principalKey } from '../platform/auth/principal.js';
import type { ServiceDefinition, ServiceDeps } from '../platform/start-service.js';
import { batchSize, checkDurableName, checkSequence, checkSubject } from '../platform/validation.js';
import { inspectionRoutes } from './inspection.js';
import { createSubjectWatch } from './subject-watch.js';

/** Bytes of payload one Fetch sends at most (a single larger message still goes alone). */
export const fetchMaxBytes = 16 * 1024 * 1024;

/**
 * Subscribe, Fetch, AckMessage and GetLastSequence. Streams end when the
 * client goes away or the server starts draining; Fetch streams each message
 * as it is read, never the whole batch first.
 */
export function egressRoutes({ store, metrics, logger, readiness }: ServiceDeps): (router: ConnectRouter) => void {
  const watch = createSubjectWatch({ store, logger });
  const ownership = durableOwnership(store, metrics);
  // The checked durable name, once the caller is known to own it on `subject`.
  const ownDurable = async (name: string, subject: string, context: HandlerContext): Promise<string> => {
    const durable = checkDurableName(name);
    await ownership.check(context.values.get(principalKey), durable, subject, context.signal);
    return durable;
  };

  const impl: Partial<ServiceImpl<typeof EgressService>> = {
    ...inspectionRoutes({ store }),

    async *subscribe(request, context) {
      const subject = checkSubject(request.subject);
      // A start sequence names the first message of interest; without one the durable's ack floor decides.
      const after =
        request.startSequence !== undefined
          ? request.startSequence > 0n
            ? request.startSequence - 1n
            : 0n
          : await store.ackFloor(await ownDurable(request.durableName, subject, context), subject, context.signal);
      const ended = AbortSignal.any([context.signal, readiness.draining]);
      for await (const sequence of watch.follow(subject, after, ended)) {
        yield { subject, sequence };
      }
    },

    async *fetch(request, context) {
      const subject = checkSubject(request.subject);
      const durable = await ownDurable(request.durableName, subject, context);
      const maxMessages = batchSize(request.batchSize);
      const floor = await store.ackFloor(durable, subject, context.signal);
      for await (const message of store.read(subject, floor, { maxMessages, maxBytes: fetchMaxBytes }, context.signal)) {
        metrics.fetchedBytes.inc(message.data.length);
        yield {
          subject: message.subject,
          sequence: message.sequence,
          data: message.data,
          headers: message.headers,
          timestamp: timestampFromMs(message.timestampMs),
        };
      }
    },

    async getLastSequence(request, context) {
      const subject = checkSubject(request.subject);
      return { lastSequence: await store.lastSequence(subject, context.signal) };
    },

    async ackMessage(request, context) {
      const subject = checkSubject(request.subject);
      const durable = await ownDurable(request.durableName, subject, context);
      await store.ack(durable, subject, checkSequence(request.sequence, 'sequence'), context.signal);
      return { success: true, errorMessage: '' };
    },
  };

  return (router) => {
    router.service(EgressService, impl);
    // Same handlers under the package-less name the deployment guide calls.
    router.service(UnqualifiedEgressService, impl);
  };
}

export const egressService: ServiceDefinition = {
  name: 'egress',
  services: [EgressService, UnqualifiedEgressService],
  routes: egressRoutes,
};
