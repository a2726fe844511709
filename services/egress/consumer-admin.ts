import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { principalKey } from '../platform/auth/principal.js';
import type { ServiceDeps } from '../platform/start-service.js';
import { checkDurableName, checkSubject } from '../platform/validation.js';
import { ConsumerConflictError } from '../store/consumers.js';
import { configuredConsumerInfo, configuredConsumerVisible, configuredInfoDeps } from './configured-consumer-info.js';
import { consumerConfigFromWire, wireFieldNames } from './consumer-config.js';

type ConsumerAdminImpl = Pick<ServiceImpl<typeof EgressService>, 'createConsumer' | 'updateConsumer' | 'deleteConsumer' | 'redrive'>;

export interface ConsumerAdminDeps extends Pick<ServiceDeps, 'store'> {
  /** Consume streams of a configured consumer open in this process. */
  waiting: (durable: string) => number;
}

/** Dead letters one store transaction of a Redrive moves at most. */
export const redriveBatch = 256;

/**
 * The operator's side of configured consumers: create (idempotent with the
 * same configuration), update, delete, and redrive of dead letters. The
 * permission table asks for `admin` on all four.
 */
export function consumerAdminRoutes(deps: ConsumerAdminDeps): ConsumerAdminImpl {
  const { store } = deps;
  return {
    async createConsumer(request, context) {
      const config = consumerConfigFromWire(request.config);
      await conflictsAs(Code.AlreadyExists, () => store.createConsumer(config, Date.now(), context.signal));
      return configuredInfo(deps, config.durable, context);
    },

    async updateConsumer(request, context) {
      const config = consumerConfigFromWire(request.config);
      await conflictsAs(Code.FailedPrecondition, () => store.updateConsumer(config, context.signal));
      return configuredInfo(deps, config.durable, context);
    },

    async deleteConsumer(request, context) {
      const durable = checkDurableName(request.durableName);
      if (!(await store.deleteConsumer(durable, context.signal))) throw notConfigured(durable);
      return {};
    },

    async redrive(request, context) {
      const deadLetterSubject = checkSubject(request.deadLetterSubject, 'dead_letter_subject');
      const { fromSequence, toSequence } = request;
      if (toSequence !== 0n && fromSequence > toSequence)
        throw new ConnectError('from_sequence is after to_sequence', Code.InvalidArgument);
      // Up to what is there now: a redriven message that fails again is not met twice in one call.
      const last = toSequence || (await store.lastSequence(deadLetterSubject, context.signal));
      let redriven = 0n;
      for (let from = fromSequence; from <= last;) {
        const { moved, lastExamined } = await store.redrive(deadLetterSubject, from, last, redriveBatch, context.signal);
        redriven += BigInt(moved);
        if (lastExamined < from) break;
        from = lastExamined + 1n;
      }
      return { redriven };
    },
  };
}

/**
 * ConsumerInfo of a configured consumer; NOT_FOUND when there is none, and
 * with `hideInvisible` also when the caller may see none of its subjects.
 */
export async function configuredInfo(
  { store, waiting }: ConsumerAdminDeps,
  durable: string,
  context: HandlerContext,
  hideInvisible = false,
) {
  const stats = await store.consumerStats(durable, context.signal);
  if (stats === undefined) throw notConfigured(durable);
  const principal = context.values.get(principalKey);
  if (hideInvisible && !configuredConsumerVisible(principal, stats)) throw notConfigured(durable);
  return configuredConsumerInfo(stats, configuredInfoDeps(store, waiting, principal, context.signal));
}

export function notConfigured(durable: string): ConnectError {
  return new ConnectError(`consumer ${durable} is not configured`, Code.NotFound);
}

/** A conflict named in the wire's field names, with the code of the RPC that met it. */
async function conflictsAs<T>(code: Code, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof ConsumerConflictError)) throw error;
    const fields = error.fields.map((field) => wireFieldNames[field as keyof typeof wireFieldNames] ?? field);
    const verb = code === Code.AlreadyExists ? 'exists with a different' : 'cannot change its';
    throw new ConnectError(`consumer ${error.durable} ${verb} ${fields.join(', ')}`, code);
  }
}
