import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { EgressService as UnqualifiedEgressService } from '../../gen/unqualified_aliases_pb.js';
import { durableOwnership } from '../platform/auth/durable-owner.js';
import { principalKey } from '../platform/auth/principal.js';
import { observeConsumers } from '../platform/consumer-metrics.js';
import { subjectVisible } from '../platform/auth/subject-visibility.js';
import type { ConsumerRecord } from '../store/consumers.js';
import type { ServiceDefinition, ServiceDeps } from '../platform/start-service.js';
import { batchSize, checkDurableName, checkSequence, checkSubject } from '../platform/validation.js';
import { browsePage } from './browse.js';
import { builtDashboardDir, dashboardRoutes } from './dashboard-route.js';
import { createLagHistory } from './lag-history.js';
import { ackConfigured, ackMessages, fetchRefused } from './configured-acks.js';
import { consumeConfigured } from './consume-configured.js';
import { consumeFrames, consumeHeartbeatMs, frameMessages } from './consume.js';
import { consumerAdminRoutes } from './consumer-admin.js';
import { inspectionRoutes } from './inspection.js';
import { retentionRoutes } from './retention-routes.js';
import { reportSkipped } from './skipped-messages.js';
import { createSubjectWatch } from './subject-watch.js';
import { toWireMessage } from './wire-message.js';

/** Bytes of payload one Fetch sends at most (a single larger message still goes alone). */
export const fetchMaxBytes = 16 * 1024 * 1024;

export interface EgressOptions {
  /** Quiet time before a Consume stream sends an empty frame; tests shorten it. */
  consumeHeartbeatMs?: number;
  /** The built dashboard served at /ui; dist/ui by default, tests build their own. */
  dashboardDir?: string;
  /** Time between consumer lag samples; tests shorten it. */
  lagSampleMs?: number;
}

/**
 * Subscribe, Fetch, Consume, AckMessage and GetLastSequence. Streams end when
 * the client goes away or the server starts draining; Fetch streams each
 * message as it is read, never the whole batch first.
 */
export function egressRoutes(
  { config, store, metrics, logger, readiness }: ServiceDeps,
  { consumeHeartbeatMs: heartbeatMs = consumeHeartbeatMs, lagSampleMs }: EgressOptions = {},
): (router: ConnectRouter) => void {
  const watch = createSubjectWatch({ store, logger, signal: readiness.draining });
  const lagHistory = createLagHistory({ store, logger, signal: readiness.draining, ...(lagSampleMs ? { intervalMs: lagSampleMs } : {}) });
  const ownership = durableOwnership(store, metrics);
  observeConsumers(store, metrics.registry, config.consumerMetricsNames);
  // The checked durable name, once the caller is known to own it on `subject`.
  const ownDurable = async (name: string, subject: string, context: HandlerContext): Promise<string> => {
    const durable = checkDurableName(name);
    await ownership.check(context.values.get(principalKey), durable, subject, context.signal);
    return durable;
  };
  // A configured consumer's record; an empty or invalid name is simply not configured.
  const configured = (name: string, signal: AbortSignal): Promise<ConsumerRecord | undefined> =>
    name === '' ? Promise.resolve(undefined) : store.consumerRecord(name, signal);

  const impl: ServiceImpl<typeof EgressService> = {
    ...inspectionRoutes({ store, waiting: watch.consumerStreams }),
    ...consumerAdminRoutes({ store, waiting: watch.consumerStreams }),
    ...retentionRoutes({ store }),

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
      const durable = checkDurableName(request.durableName);
      const limits = { maxMessages: batchSize(request.batchSize), maxBytes: fetchMaxBytes };
      // One store call: whether the durable is configured, its floor and the first page. Nothing is sent before the ownership check.
      const read = await store.readFromAckFloor(durable, subject, limits, context.signal);
      if (read === 'configured') throw fetchRefused(durable);
      await ownership.check(context.values.get(principalKey), durable, subject, context.signal);
      const floor = read.ackFloor;
      let first = true;
      for await (const message of read.messages) {
        if (first) {
          first = false;
          const where = { subject, durable, after: floor, firstRead: message.sequence, afterIsFloor: true };
          await reportSkipped({ store, metrics, logger }, where, context.signal);
        }
        metrics.fetchedBytes.inc(message.data.length);
        yield toWireMessage(message);
      }
    },

    async *consume(request, context) {
      const record = await configured(request.durableName, context.signal);
      if (record) {
        if (request.subject !== '')
          throw new ConnectError('subject must be empty for a configured consumer: its filters decide', Code.InvalidArgument);
        const principal = context.values.get(principalKey);
        const mayFetch = (subject: string) => subjectVisible(principal, subject);
        const ended = AbortSignal.any([context.signal, readiness.draining]);
        const options = { record, maxBatch: frameMessages(request.maxBatch), mayFetch };
        return yield* consumeConfigured({ store, watch, metrics, heartbeatMs }, options, ended);
      }
      const subject = checkSubject(request.subject);
      const durable = await ownDurable(request.durableName, subject, context);
      const ended = AbortSignal.any([context.signal, readiness.draining]);
      const { startSequence, maxAckPending, maxBatch } = request;
      yield* consumeFrames(
        { store, watch, metrics, logger, heartbeatMs },
        { subject, durable, startSequence, maxAckPending, maxBatch },
        ended,
      );
    },

    async getLastSequence(request, context) {
      const subject = checkSubject(request.subject);
      return { lastSequence: await store.lastSequence(subject, context.signal) };
    },

    browse: (request, context) => browsePage({ store, metrics }, request, context.signal),

    consumerLagHistory(request, context) {
      const subject = request.subject === '' ? undefined : checkSubject(request.subject);
      const principal = context.values.get(principalKey);
      const consumers = lagHistory.history(subject).filter((entry) => entry.shownBy.some((each) => subjectVisible(principal, each)));
      return {
        consumers: consumers.map(({ durable, subject, samples }) => ({
          durableName: durable,
          subject,
          samples: samples.map(({ timeMs, pending }) => ({ time: timestampFromMs(timeMs), pending })),
        })),
      };
    },

    async ackMessage(request, context) {
      const subject = checkSubject(request.subject);
      const sequence = checkSequence(request.sequence, 'sequence');
      const durable = checkDurableName(request.durableName);
      const principal = context.values.get(principalKey);
      // An ack moves the floor only once ownership is known, and a configured consumer is never claimed:
      // the first ack of a caller asks whether the durable is configured and claims it; later ones are one store call.
      if (!ownership.confirmed(principal, durable, subject)) {
        if (await store.consumerRecord(durable, context.signal)) return ackConfigured(store, durable, subject, sequence, context.signal);
        await ownership.check(principal, durable, subject, context.signal);
      }
      if ((await store.ackUnconfigured(durable, subject, sequence, context.signal)) === 'configured') {
        return ackConfigured(store, durable, subject, sequence, context.signal);
      }
      return { success: true, errorMessage: '' };
    },

    ackMessages: (request, context) => ackMessages(store, request, context.signal),
  };

  return (router) => {
    router.service(EgressService, impl);
    // Same handlers under the package-less name the deployment guide calls.
    router.service(UnqualifiedEgressService, impl);
  };
}

/** The egress service; `options` only for tests that need other timings. */
export function createEgressService(options: EgressOptions = {}): ServiceDefinition {
  return {
    name: 'egress',
    services: [EgressService, UnqualifiedEgressService],
    routes: (deps) => egressRoutes(deps, options),
    http: ({ config }) => dashboardRoutes({ dir: options.dashboardDir ?? builtDashboardDir, ingressUrl: config.uiIngressUrl }),
  };
}

export const egressService: ServiceDefinition = createEgressService();
