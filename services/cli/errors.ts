import { ConnectError } from '@connectrpc/connect';
import { codeToString } from '@connectrpc/connect/protocol-connect';
import { UsageError } from './args.js';

/** Exit status: 1 for a failed call or I/O, 2 for a mistake on the command line. */
export const exitCodes = { failure: 1, usage: 2 } as const;

/**
 * The one line printed for a failure, after `mts: `: the gRPC code as the
 * protocols spell it and the server's message — `invalid_argument: subject
 * "a..b" has an empty token`, `unavailable: connect ECONNREFUSED ...`.
 */
export function describeError(error: unknown): string {
  if (error instanceof UsageError) return error.message;
  if (error instanceof ConnectError) return `${codeToString(error.code)}: ${error.rawMessage}`;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
