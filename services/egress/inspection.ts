import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import type { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { principalKey } from '../platform/auth/principal.js';
import { subjectAllowed } from '../platform/auth/subject-patterns.js';
import { subjectVisible } from '../platform/auth/subject-visibility.js';
import { filterMatches } from '../platform/subject-filter.js';
import { checkDurableName, checkSubject } from '../platform/validation.js';
import type { ConsumerStats } from '../store/consumers.js';
import type { ConsumerPosition, SubjectStats } from '../store/store.js';
import { configuredInfo, type ConsumerAdminDeps } from './consumer-admin.js';
import { configuredConsumerInfo, configuredConsumerVisible, configuredInfoDeps } from './configured-consumer-info.js';
import { retainedFloors } from './retained-floors.js';
import { wirePolicy } from './retention-routes.js';

type InspectionImpl = Pick<
  ServiceImpl<typeof EgressService>,
  'listSubjects' | 'getSubjectInfo' | 'listConsumers' | 'getConsumerInfo' | 'resetConsumer' | 'purge'
>;

/**
 * The inspection RPCs: what subjects hold and where consumers stand, from
 * counters the store keeps (no message is read), and an operator's reset of
 * a consumer's position and purge of a subject. Listings show only what the
 * caller may fetch. Configured consumers are listed after the others, with
 * subject "" and their figures (see configured-consumer-info.ts).
 */
export function inspectionRoutes(deps: ConsumerAdminDeps): InspectionImpl {
  const { store, waiting } = deps;
  return {
    async listSubjects(request, context) {
      const pattern = request.pattern.trim();
      const principal = context.values.get(principalKey);
      const subjects = await store.listSubjects(context.signal);
      return {
        subjects: subjects
          .filter(({ subject }) => (pattern === '' || subjectAllowed([pattern], subject)) && subjectVisible(principal, subject))
          .map(subjectInfo),
      };
    },

    async getSubjectInfo(request, context) {
      const subject = checkSubject(request.subject);
      const [stats, policy] = await Promise.all([
        store.subjectStats(subject, context.signal),
        store.retentionPolicyOf(subject, context.signal),
      ]);
      if (stats === undefined) throw new ConnectError(`nothing was ever published on subject ${subject}`, Code.NotFound);
      return { ...subjectInfo(stats), ...(policy === undefined ? {} : { retention: wirePolicy(policy) }) };
    },

    async listConsumers(request, context) {
      const subject = request.subject === '' ? undefined : checkSubject(request.subject);
      const principal = context.values.get(principalKey);
      const [consumers, records] = await Promise.all([
        store.listConsumers(subject, context.signal),
        store.listConsumerRecords(context.signal),
      ]);
      const retained = retainedFloors(store, context.signal);
      const legacy = consumers.filter((consumer) => subjectVisible(principal, consumer.subject));
      const configured = records.filter(
        ({ config }) => subject === undefined || config.filterSubjects.some((filter) => filterMatches(filter, subject)),
      );
      const stats = await Promise.all(configured.map(({ config }) => store.consumerStats(config.durable, context.signal)));
      const infoDeps = configuredInfoDeps(store, waiting, principal, context.signal);
      const shown = stats.filter((entry): entry is ConsumerStats => entry !== undefined && configuredConsumerVisible(principal, entry));
      return {
        consumers: [
          ...(await Promise.all(legacy.map(async (consumer) => consumerInfo(consumer, await retained(consumer.subject))))),
          ...(await Promise.all(shown.map((entry) => configuredConsumerInfo(entry, infoDeps)))),
        ],
      };
    },

    async getConsumerInfo(request, context) {
      const durable = checkDurableName(request.durableName);
      // No subject: the configured consumer of that name.
      if (request.subject === '') return configuredInfo(deps, durable, context, true);
      const subject = checkSubject(request.subject);
      const position = await store.consumerPosition(durable, subject, context.signal);
      if (position === undefined) {
        throw new ConnectError(`durable consumer "${durable}" has acknowledged nothing on ${subject}`, Code.NotFound);
      }
      return consumerInfo(position, await retainedFloors(store, context.signal)(subject));
    },

    async resetConsumer(request, context) {
      const subject = checkSubject(request.subject);
      const durable = checkDurableName(request.durableName);
      // 0 is a valid floor here: the consumer starts over.
      const position = await store.resetConsumer(durable, subject, request.sequence, context.signal);
      return consumerInfo(position, await retainedFloors(store, context.signal)(subject));
    },

    async purge(request, context) {
      const subject = checkSubject(request.subject);
      const purged = await store.purge(subject, request.throughSequence, context.signal);
      const stats = await store.subjectStats(subject, context.signal);
      return { purged: BigInt(purged), firstSequence: stats?.firstSequence ?? 0n };
    },
  };
}

function subjectInfo(stats: SubjectStats) {
  return {
    subject: stats.subject,
    messages: stats.messages,
    bytes: stats.bytes,
    firstSequence: stats.firstSequence,
    lastSequence: stats.lastSequence,
    ...(stats.lastPublishMs === undefined ? {} : { lastPublishTime: timestampFromMs(stats.lastPublishMs) }),
  };
}

function consumerInfo(position: ConsumerPosition, retainedFloor: bigint) {
  const from = position.ackFloor > retainedFloor ? position.ackFloor : retainedFloor;
  const pending = position.lastSequence > from ? position.lastSequence - from : 0n;
  return {
    durableName: position.durable,
    subject: position.subject,
    ackFloor: position.ackFloor,
    lastSequence: position.lastSequence,
    pending,
  };
}
