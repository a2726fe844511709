/**
 * The part of RFC 6902 that the kustomize components use (add, replace), so tests can apply a
 * component's patches without kubectl. Any other operation, or a path that does not resolve,
 * throws: a patch the tests cannot apply exactly must not pass unnoticed.
 */

export interface PatchOperation {
  op: string;
  path: string;
  value?: unknown;
}

type Container = Record<string, unknown> | unknown[];

/** Applies `operations` to `document` in place. */
export function applyJsonPatch(document: unknown, operations: readonly PatchOperation[]): void {
  for (const { op, path, value } of operations) {
    if (op !== 'add' && op !== 'replace') throw new Error(`${path}: unsupported patch operation "${op}"`);
    const tokens = path
      .split('/')
      .slice(1)
      .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = tokens.pop();
    if (last === undefined) throw new Error(`"${path}" does not name a member`);
    const parent = tokens.reduce<unknown>((node, token) => child(node, token, path), document);
    if (typeof parent !== 'object' || parent === null) throw new Error(`${path}: the parent is not an object or array`);
    set(parent as Container, last, structuredClone(value), op, path);
  }
}

function child(node: unknown, token: string, path: string): unknown {
  const next = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[token] : undefined;
  if (next === undefined) throw new Error(`${path}: "${token}" does not exist`);
  return next;
}

function set(parent: Container, key: string, value: unknown, op: 'add' | 'replace', path: string): void {
  if (Array.isArray(parent)) {
    const index = key === '-' && op === 'add' ? parent.length : Number(key);
    if (!Number.isInteger(index) || index < 0 || index > parent.length - (op === 'replace' ? 1 : 0)) {
      throw new Error(`${path}: index "${key}" is out of range`);
    }
    parent.splice(index, op === 'replace' ? 1 : 0, value);
    return;
  }
  if (op === 'replace' && !(key in parent)) throw new Error(`${path}: nothing to replace`);
  parent[key] = value;
}
