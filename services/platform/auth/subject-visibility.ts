import { inspectRule, permitted } from './permission-table.js';
import type { Principal } from './principal.js';
import { subjectAllowed } from './subject-patterns.js';

/**
 * Whether a listing may show `subject` to the caller: a token sees only the
 * subjects it may fetch. Without auth, and for the anonymous callers that
 * AUTH_MODE=optional lets through, every subject is shown, as every subject
 * may be fetched.
 */
export function subjectVisible(principal: Principal | undefined, subject: string): boolean {
  if (principal === undefined || principal.kind === 'anonymous') return true;
  return permitted(inspectRule, principal.permissions) && subjectAllowed(principal.allowedSubjects, subject);
}
