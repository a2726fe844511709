import type { Discard, RetentionKind, RetentionPolicy } from './store.js';

/**
 * What a retention policy decides, for the embedded store (init.lua has the
 * same rules in Lua). Limits of 0 are unlimited.
 */

/** The limit a message of `size` bytes would break on a subject holding `count` messages of `bytes`. */
export function brokenLimit(
  policy: RetentionPolicy,
  count: bigint,
  bytes: bigint,
  size: number,
): { limit: string; value: number } | undefined {
  if (policy.maxMessageBytes > 0 && size > policy.maxMessageBytes) return { limit: 'max_message_bytes', value: policy.maxMessageBytes };
  if (policy.discard !== 'new') return undefined;
  if (policy.maxMessages > 0 && count + 1n > BigInt(policy.maxMessages)) return { limit: 'max_messages', value: policy.maxMessages };
  if (policy.maxBytes > 0 && bytes + BigInt(size) > BigInt(policy.maxBytes)) return { limit: 'max_bytes', value: policy.maxBytes };
  return undefined;
}

/** Whether a policy can ever expire anything; one that cannot costs the expiry worker nothing. */
export function expiresAnything(policy: RetentionPolicy): boolean {
  const dropsOld = policy.discard !== 'new';
  return policy.maxAgeMs > 0 || policy.retention === 'interest' || (dropsOld && (policy.maxMessages > 0 || policy.maxBytes > 0));
}

/**
 * Whether the oldest stored message expires, the subject holding `count`
 * messages of `bytes` and every durable consumer having acknowledged up to
 * `ackedByAll` (interest retention). Age always expires messages; count and
 * bytes only when the policy drops old messages (with discard `new` the
 * publish is refused instead).
 */
export function expires(
  policy: RetentionPolicy,
  nowMs: number,
  message: { sequence: bigint; timestampMs: number },
  count: bigint,
  bytes: bigint,
  ackedByAll: bigint,
): boolean {
  const dropsOld = policy.discard !== 'new';
  const { timestampMs } = message;
  return (
    (policy.retention === 'interest' && message.sequence <= ackedByAll) ||
    (dropsOld && policy.maxMessages > 0 && count > BigInt(policy.maxMessages)) ||
    (dropsOld && policy.maxBytes > 0 && bytes > BigInt(policy.maxBytes)) ||
    (policy.maxAgeMs > 0 && timestampMs + policy.maxAgeMs < nowMs)
  );
}

/**
 * Since when (ms since the epoch) the oldest of a subject's `count` messages
 * has been due for deletion by the policy's max_age or max_messages;
 * undefined when neither deletes it. `first` is the oldest stored message;
 * `timestampAt` reads the commit time of a stored sequence. A subject's stored
 * sequences are contiguous (only its oldest are deleted), so the message whose
 * commit put the subject over max_messages is at first + max_messages.
 */
export function dueSinceMs(
  policy: RetentionPolicy,
  count: bigint,
  first: { sequence: bigint; timestampMs: number },
  timestampAt: (sequence: bigint) => number | undefined,
): number | undefined {
  const aged = policy.maxAgeMs > 0 ? first.timestampMs + policy.maxAgeMs : undefined;
  const overCount =
    policy.discard !== 'new' && policy.maxMessages > 0 && count > BigInt(policy.maxMessages)
      ? timestampAt(first.sequence + BigInt(policy.maxMessages))
      : undefined;
  if (aged === undefined || overCount === undefined) return aged ?? overCount;
  return Math.min(aged, overCount);
}

/** A stored policy as both backends name its columns (numbers as SQLite bigints or Tarantool decimal strings). */
export interface PolicyColumns {
  pattern: string;
  max_age_ms: bigint | string;
  max_messages: bigint | string;
  max_bytes: bigint | string;
  max_message_bytes: bigint | string;
  discard: Discard;
  retention: RetentionKind;
}

export function policyFromColumns(row: PolicyColumns): RetentionPolicy {
  return {
    pattern: row.pattern,
    maxAgeMs: Number(row.max_age_ms),
    maxMessages: Number(row.max_messages),
    maxBytes: Number(row.max_bytes),
    maxMessageBytes: Number(row.max_message_bytes),
    discard: row.discard,
    retention: row.retention,
  };
}
