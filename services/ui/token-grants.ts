import { permitted } from '../platform/auth/permission-table.js';
import { subjectAllowed } from '../platform/auth/subject-patterns.js';
import { savedToken } from './rpc.js';

/**
 * Why the tab's token would be refused `permission` on `subject`, read from
 * its claims (not verified here: only to disable what the server would
 * refuse; the server decides). Undefined when allowed, when there is no
 * token, or when the token cannot be read.
 */
export function tokenDenial(permission: string, subject: string): string | undefined {
  const claims = claimsOf(savedToken());
  if (claims === undefined) return undefined;
  if (!permitted({ anyOf: [permission] }, claims.permissions)) return `the token lacks the ${permission} permission`;
  if (subject !== '' && !subjectAllowed(claims.subjects, subject)) return `the token does not allow subject ${subject}`;
  return undefined;
}

function claimsOf(token: string): { permissions: Set<string>; subjects: string[] } | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
    const list = (value: unknown) => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []);
    return { permissions: new Set(list(claims['permissions'])), subjects: list(claims['allowed_subjects']) };
  } catch {
    return undefined;
  }
}
