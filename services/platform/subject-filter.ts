/**
 * Consumer filters, NATS style: `*` matches exactly one token, `>` (last
 * token only) one or more trailing tokens, anything else itself. Not the
 * token `allowed_subjects` patterns of subject-patterns.ts, where `a.*` also
 * covers `a` and everything below it.
 */

/** Whether `subject` (no wildcards) matches `filter`. */
export function filterMatches(filter: string, subject: string): boolean {
  const pattern = filter.split('.');
  const tokens = subject.split('.');
  for (let index = 0; index < pattern.length; index++) {
    const wanted = pattern[index]!;
    if (wanted === '>') return tokens.length > index;
    if (index >= tokens.length || (wanted !== '*' && wanted !== tokens[index])) return false;
  }
  return tokens.length === pattern.length;
}

/** Whether some subject matches both filters. */
export function filtersOverlap(first: string, second: string): boolean {
  const a = first.split('.');
  const b = second.split('.');
  for (let index = 0; index < Math.min(a.length, b.length); index++) {
    const [x, y] = [a[index]!, b[index]!];
    if (x === '>' || y === '>') return true;
    if (x !== '*' && y !== '*' && x !== y) return false;
  }
  return a.length === b.length;
}
