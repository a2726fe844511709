import { patternsOverlap, sameSpecificity } from './subject-pattern.js';
import { RetentionPolicyConflictError, type MetadataStore, type RetentionPolicy } from './store.js';

/**
 * Stores `policy` unless another pattern ties with it: as specific, and
 * matching some subject in common, so neither could win for that subject.
 * The check reads the policies, then writes: two operators creating tying
 * patterns at the same instant could both pass it.
 */
export async function setRetentionPolicy(metadata: MetadataStore, policy: RetentionPolicy, signal?: AbortSignal): Promise<void> {
  for (const existing of await metadata.listRetentionPolicies(signal)) {
    const { pattern } = existing;
    if (pattern !== policy.pattern && sameSpecificity(pattern, policy.pattern) && patternsOverlap(pattern, policy.pattern)) {
      throw new RetentionPolicyConflictError(
        `pattern "${policy.pattern}" ties with the policy "${pattern}": both match some subjects and neither is more specific`,
      );
    }
  }
  await metadata.setRetentionPolicy(policy, signal);
}
