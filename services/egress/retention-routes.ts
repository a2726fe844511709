import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import type { EgressService, RetentionPolicy as WirePolicy } from '../../gen/minitoolstream/egress_pb.js';
import type { ServiceDeps } from '../platform/start-service.js';
import { checkSubject } from '../platform/validation.js';
import { patternProblem } from '../store/subject-pattern.js';
import { defaultPolicyPattern, type RetentionPolicy } from '../store/store.js';

type RetentionImpl = Pick<
  ServiceImpl<typeof EgressService>,
  'setRetentionPolicy' | 'listRetentionPolicies' | 'deleteRetentionPolicy' | 'getRetentionPolicy'
>;

/**
 * The RPCs over retention policies: the admin's set, list and delete (the
 * default policy `>` belongs to the services' environment), and the policy
 * in force for one subject.
 */
export function retentionRoutes({ store }: Pick<ServiceDeps, 'store'>): RetentionImpl {
  return {
    async setRetentionPolicy(request, context) {
      const policy = policyOfRequest(request);
      await store.setRetentionPolicy(policy, context.signal);
      return wirePolicy(policy);
    },

    async listRetentionPolicies(_request, context) {
      return { policies: (await store.listRetentionPolicies(context.signal)).map(wirePolicy) };
    },

    async deleteRetentionPolicy(request, context) {
      const pattern = checkPattern(request.pattern);
      if (!(await store.deleteRetentionPolicy(pattern, context.signal))) {
        throw new ConnectError(`no retention policy has the pattern "${pattern}"`, Code.NotFound);
      }
      return {};
    },

    async getRetentionPolicy(request, context) {
      const subject = checkSubject(request.subject);
      const policy = await store.retentionPolicyOf(subject, context.signal);
      if (policy === undefined) throw new ConnectError(`no retention policy matches subject ${subject}`, Code.NotFound);
      return wirePolicy(policy);
    },
  };
}

export function wirePolicy(policy: RetentionPolicy) {
  return {
    pattern: policy.pattern,
    maxAgeMs: BigInt(policy.maxAgeMs),
    maxMessages: BigInt(policy.maxMessages),
    maxBytes: BigInt(policy.maxBytes),
    maxMessageBytes: BigInt(policy.maxMessageBytes),
    discard: policy.discard,
    retention: policy.retention,
  };
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

function checkPattern(pattern: string): string {
  const problem = patternProblem(pattern);
  if (problem !== undefined) throw invalid(problem);
  if (pattern === defaultPolicyPattern) {
    throw invalid(`the default policy "${defaultPolicyPattern}" is set by the RETENTION_* variables of the services`);
  }
  return pattern;
}

function policyOfRequest(request: WirePolicy): RetentionPolicy {
  const limit = (value: bigint, field: string): number => {
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`${field} is larger than ${Number.MAX_SAFE_INTEGER}`);
    return Number(value);
  };
  if (request.discard !== '' && request.discard !== 'old' && request.discard !== 'new') {
    throw invalid(`discard must be "old" or "new", not "${request.discard}"`);
  }
  if (request.retention !== '' && request.retention !== 'limits' && request.retention !== 'interest') {
    throw invalid(`retention must be "limits" or "interest", not "${request.retention}"`);
  }
  return {
    pattern: checkPattern(request.pattern),
    maxAgeMs: limit(request.maxAgeMs, 'max_age_ms'),
    maxMessages: limit(request.maxMessages, 'max_messages'),
    maxBytes: limit(request.maxBytes, 'max_bytes'),
    maxMessageBytes: limit(request.maxMessageBytes, 'max_message_bytes'),
    discard: request.discard === 'new' ? 'new' : 'old',
    retention: request.retention === 'interest' ? 'interest' : 'limits',
  };
}
