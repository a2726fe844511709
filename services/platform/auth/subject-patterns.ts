/**
 * Whether a token's `allowed_subjects` cover `subject`. Patterns as the
 * original clients write them: `*` is every subject, `a.*` is `a` and every
 * subject below it (`a.b`, `a.b.c`, not `ab`), anything else is exact.
 * `>` and `a.>` mean what they mean in a consumer filter (NATS): every
 * subject, and every subject below `a` (not `a` itself).
 * An empty list allows every subject.
 */
export function subjectAllowed(patterns: readonly string[], subject: string): boolean {
  if (patterns.length === 0) return true;
  return patterns.some((pattern) => matches(pattern, subject));
}

function matches(pattern: string, subject: string): boolean {
  if (pattern === '*' || pattern === '>') return true;
  if (pattern.endsWith('.>')) return subject.startsWith(pattern.slice(0, -1));
  if (pattern.endsWith('.*')) {
    const base = pattern.slice(0, -2);
    return subject === base || subject.startsWith(`${base}.`);
  }
  return pattern === subject;
}
