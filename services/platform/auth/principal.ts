import { createContextKey } from '@connectrpc/connect';
import type { JWTPayload } from 'jose';
import { AuthFailure } from './auth-failure.js';

/** A caller with a verified token. */
export interface Client {
  kind: 'client';
  clientId: string;
  /** Subject patterns (see subject-patterns.ts); empty allows all. */
  allowedSubjects: readonly string[];
  /** `publish`, `subscribe`, `fetch` or `*`. */
  permissions: ReadonlySet<string>;
}

/** A caller without a token, let through by AUTH_MODE=optional. */
export interface Anonymous {
  kind: 'anonymous';
}

export type Principal = Client | Anonymous;

/** The verified caller of an RPC; undefined when auth is disabled. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: 'verified caller' });

/** Reads the claims the original clients' tokens carry; a wrong shape is `invalid_claims`. */
export function clientFromClaims(payload: JWTPayload): Client {
  const clientId = payload['client_id'];
  if (typeof clientId !== 'string' || clientId === '') {
    throw new AuthFailure('invalid_claims', 'token has no client_id claim');
  }
  return {
    kind: 'client',
    clientId,
    allowedSubjects: stringList(payload['allowed_subjects'], 'allowed_subjects'),
    permissions: new Set(stringList(payload['permissions'], 'permissions')),
  };
}

function stringList(value: unknown, claim: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new AuthFailure('invalid_claims', `token claim ${claim} is not a list of strings`);
  }
  return value;
}
