/**
 * Subject patterns, NATS style, of retention policies and consumer filters:
 * dot-separated tokens where `*` matches one token and a final `>` matches
 * one or more. init.lua mirrors {@link patternMatches} and
 * {@link specificity} for its expiry fiber. Not the token `allowed_subjects`
 * patterns of platform/auth/subject-patterns.ts, where `a.*` also covers `a`
 * and everything below it.
 */

/** `[literal tokens, tokens other than '>']`: compared in order, higher is more specific. */
export type Specificity = readonly [number, number];

/** The reason `pattern` is not a valid pattern, or undefined when it is. */
export function patternProblem(pattern: string): string | undefined {
  if (pattern === '') return 'a pattern is required';
  if (/[\s\p{Cc}]/u.test(pattern)) return 'a pattern must not contain whitespace or control characters';
  const tokens = pattern.split('.');
  if (tokens.some((token) => token === '')) return `pattern "${pattern}" has an empty token`;
  const misplaced = tokens.findIndex(
    (token, index) => (token === '>' && index !== tokens.length - 1) || (token !== '>' && token !== '*' && /[*>]/.test(token)),
  );
  if (misplaced !== -1) return `pattern "${pattern}": * and > must be whole tokens, and > only the last`;
  return undefined;
}

export function patternMatches(pattern: string, subject: string): boolean {
  const wanted = pattern.split('.');
  const given = subject.split('.');
  for (const [index, token] of wanted.entries()) {
    if (token === '>') return given.length > index;
    if (index >= given.length || (token !== '*' && token !== given[index])) return false;
  }
  return wanted.length === given.length;
}

export function specificity(pattern: string): Specificity {
  const tokens = pattern.split('.');
  return [tokens.filter((token) => token !== '*' && token !== '>').length, tokens.filter((token) => token !== '>').length];
}

export function sameSpecificity(a: string, b: string): boolean {
  const [x, y] = [specificity(a), specificity(b)];
  return x[0] === y[0] && x[1] === y[1];
}

/** Whether some subject matches both patterns. */
export function patternsOverlap(a: string, b: string): boolean {
  const left = a.split('.');
  const right = b.split('.');
  for (let index = 0; ; index++) {
    const [x, y] = [left[index], right[index]];
    if (x === '>') return y !== undefined;
    if (y === '>') return x !== undefined;
    if (x === undefined || y === undefined) return x === y;
    if (x !== '*' && y !== '*' && x !== y) return false;
  }
}

/** The most specific of `patterns` matching `subject`, or undefined. */
export function mostSpecific(patterns: readonly string[], subject: string): string | undefined {
  let best: string | undefined;
  for (const pattern of patterns) {
    if (!patternMatches(pattern, subject)) continue;
    if (best === undefined || compare(specificity(pattern), specificity(best)) > 0) best = pattern;
  }
  return best;
}

function compare(a: Specificity, b: Specificity): number {
  return a[0] - b[0] || a[1] - b[1];
}
