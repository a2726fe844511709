import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { EgressService, PurgeRequest } from '../../gen/minitoolstream/egress_pb.js';
import { principalKey } from '../platform/auth/principal.js';
import { subjectAllowed } from '../platform/auth/subject-patterns.js';
import { subjectVisible } from '../platform/auth/subject-visibility.js';
import type { ServiceDeps } from '../platform/start-service.js';
import { checkDurableName, checkSubject } from '../platform/validation.js';
import { patternMatches, patternProblem } from '../store/retention-pattern.js';
import type { ConsumerPosition, SubjectStats } from '../store/store.js';
import { wirePolicy } from './retention-routes.js';

type InspectionImpl = Pick<
  ServiceImpl<typeof EgressService>,
  'listSubjects' | 'getSubjectInfo' | 'listConsumers' | 'getConsumerInfo' | 'resetConsumer' | 'purge'
>;

/**
 * The inspection RPCs: what subjects hold and where consumers stand, from
 * counters the store keeps (no message is read), and an operator's reset of
 * a consumer's position and purge of a subject or of a pattern's subjects.
 * Listings show only what the caller may fetch.
 */
export function inspectionRoutes({ store }: Pick<ServiceDeps, 'store'>): InspectionImpl {
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
      const consumers = (await store.listConsumers(subject, context.signal)).filter((consumer) =>
        subjectVisible(principal, consumer.subject),
      );
      const retained = retainedFloors(store, context.signal);
      return { consumers: await Promise.all(consumers.map(async (consumer) => consumerInfo(consumer, await retained(consumer.subject)))) };
    },

    async getConsumerInfo(request, context) {
      const subject = checkSubject(request.subject);
      const durable = checkDurableName(request.durableName);
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
      if (request.pattern !== '') return purgePattern(store, request, context);
      const subject = checkSubject(request.subject);
      const purged = await store.purge(subject, request.throughSequence, context.signal);
      const stats = await store.subjectStats(subject, context.signal);
      return { purged: BigInt(purged), firstSequence: stats?.firstSequence ?? 0n, subjects: 1n };
    },
  };
}

/**
 * Purges every subject the pattern matches, one after the other, and only
 * those the caller's token allows (the auth layer lets a request naming no
 * subject through, as for a listing).
 */
async function purgePattern(store: ServiceDeps['store'], request: PurgeRequest, context: HandlerContext) {
  const { pattern } = request;
  const problem = patternProblem(pattern);
  if (problem !== undefined) throw new ConnectError(problem, Code.InvalidArgument);
  if (request.subject !== '' || request.throughSequence !== undefined) {
    throw new ConnectError('a purge by pattern takes neither a subject nor through_sequence', Code.InvalidArgument);
  }
  const principal = context.values.get(principalKey);
  const allowed = (subject: string) => principal?.kind !== 'client' || subjectAllowed(principal.allowedSubjects, subject);
  const matched = (await store.listSubjects(context.signal)).filter(({ subject }) => patternMatches(pattern, subject) && allowed(subject));
  let purged = 0;
  for (const { subject } of matched) purged += await store.purge(subject, undefined, context.signal);
  return { purged: BigInt(purged), firstSequence: 0n, subjects: BigInt(matched.length) };
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

/**
 * The sequence below which a subject holds nothing (retention or a purge
 * deleted it), per subject, each looked up once: a consumer's pending count
 * leaves out what it can no longer receive.
 */
function retainedFloors(store: Pick<ServiceDeps['store'], 'subjectStats'>, signal: AbortSignal): (subject: string) => Promise<bigint> {
  const floors = new Map<string, Promise<bigint>>();
  return (subject) => {
    let floor = floors.get(subject);
    if (floor === undefined) {
      floor = store.subjectStats(subject, signal).then((stats) => {
        if (stats === undefined) return 0n;
        return stats.firstSequence > 0n ? stats.firstSequence - 1n : stats.lastSequence;
      });
      floors.set(subject, floor);
    }
    return floor;
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
