import { Code } from '@connectrpc/connect';

/**
 * Why a call was refused: the closed label set of the auth failure metric.
 * Everything but `permission_denied` and `key_source_unavailable` answers
 * UNAUTHENTICATED.
 */
export const authFailureReasons = [
  'missing',
  'malformed',
  'bad_algorithm',
  'unknown_key',
  'bad_signature',
  'expired',
  'not_yet_valid',
  'wrong_issuer',
  'wrong_audience',
  'invalid_claims',
  'permission_denied',
  'key_source_unavailable',
] as const;

export type AuthFailureReason = (typeof authFailureReasons)[number];

/**
 * A refused call; rpc-errors.ts turns it into a ConnectError with `code`.
 * The message is safe to send: it never contains the token.
 */
export class AuthFailure extends Error {
  override name = 'AuthFailure';
  readonly code: Code;
  constructor(
    readonly reason: AuthFailureReason,
    message: string,
  ) {
    super(message);
    this.code = codeFor(reason);
  }
}

function codeFor(reason: AuthFailureReason): Code {
  if (reason === 'permission_denied') return Code.PermissionDenied;
  // The token may be fine; the keys could not be fetched, so the client should retry.
  if (reason === 'key_source_unavailable') return Code.Unavailable;
  return Code.Unauthenticated;
}
