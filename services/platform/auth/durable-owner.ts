import type { MessageStore } from '../../store/store.js';
import type { Metrics } from '../metrics.js';
import { AuthFailure } from './auth-failure.js';
import type { Principal } from './principal.js';

/** Confirmed (durable, subject, owner) triples kept at most; beyond that the oldest is forgotten. */
const defaultCacheSize = 10_000;

/**
 * The owner a caller claims durables as. Tokens always carry a non-empty
 * client_id, so `""` is free to stand for every anonymous caller
 * (AUTH_MODE=optional without a token): they share the durables they use
 * first, and cannot reach one a client has claimed, nor a client theirs.
 * With auth disabled there is no principal and no ownership at all.
 */
function ownerOf(principal: Principal | undefined): string | undefined {
  if (principal === undefined) return undefined;
  return principal.kind === 'client' ? principal.clientId : '';
}

export interface DurableOwnership {
  /**
   * Resolves when `principal` owns (durable, subject), claiming it if nobody
   * has; otherwise throws a `permission_denied` {@link AuthFailure}, counted.
   */
  check(principal: Principal | undefined, durable: string, subject: string, signal?: AbortSignal): Promise<void>;
  /** True when {@link check} would resolve without asking the store: auth is off, or the claim was confirmed already. */
  confirmed(principal: Principal | undefined, durable: string, subject: string): boolean;
}

/**
 * A durable consumer belongs to the caller that first used it (see
 * MessageStore.claimConsumer). Names are stored as clients send them. An owner
 * never changes once recorded, so confirmed claims are remembered in-process
 * and a steady stream of Fetch and Ack adds no store call.
 */
export function durableOwnership(store: MessageStore, metrics: Metrics, cacheSize = defaultCacheSize): DurableOwnership {
  const confirmed = new Set<string>();
  const keyOf = (durable: string, subject: string, owner: string) => JSON.stringify([durable, subject, owner]);
  return {
    confirmed(principal, durable, subject) {
      const owner = ownerOf(principal);
      return owner === undefined || confirmed.has(keyOf(durable, subject, owner));
    },
    async check(principal, durable, subject, signal) {
      const owner = ownerOf(principal);
      if (owner === undefined) return;
      const key = keyOf(durable, subject, owner);
      if (confirmed.has(key)) return;
      if (!(await store.claimConsumer(durable, subject, owner, signal))) {
        metrics.authFailures.inc({ reason: 'permission_denied' });
        throw new AuthFailure('permission_denied', `durable "${durable}" on subject "${subject}" belongs to another client`);
      }
      if (confirmed.size >= cacheSize) confirmed.delete(confirmed.values().next().value!);
      confirmed.add(key);
    },
  };
}
