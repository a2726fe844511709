import { Code, ConnectError } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { AuthFailure } from './auth/auth-failure.js';
import {
  AckBeyondEndError,
  ExpectedLastSequenceError,
  MessageTooLargeError,
  PayloadBudgetExceededError,
  RetentionLimitError,
  RetentionPolicyConflictError,
  StoreClosedError,
  StoreFullError,
  StoreUnavailableError,
  UploadExpiredError,
} from '../store/store.js';
import { ConsumerConflictError, ConsumerNotFoundError } from '../store/consumers.js';

const unavailableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EAI_AGAIN']);

/**
 * The one edge where failures become gRPC codes. Expected store errors get
 * their code and message; connection errors anywhere in the cause chain are
 * UNAVAILABLE; anything else is INTERNAL with the cause logged, not sent.
 */
export function toConnectError(reason: unknown, logger: Logger): ConnectError {
  if (reason instanceof ConnectError) return reason;
  if (reason instanceof AuthFailure) return new ConnectError(reason.message, reason.code);
  if (reason instanceof MessageTooLargeError || reason instanceof PayloadBudgetExceededError)
    return new ConnectError(reason.message, Code.ResourceExhausted);
  if (reason instanceof RetentionLimitError || reason instanceof StoreFullError) {
    return new ConnectError(reason.message, Code.ResourceExhausted);
  }
  if (
    reason instanceof AckBeyondEndError ||
    reason instanceof ExpectedLastSequenceError ||
    reason instanceof RetentionPolicyConflictError
  ) {
    return new ConnectError(reason.message, Code.FailedPrecondition);
  }
  if (reason instanceof ConsumerNotFoundError) return new ConnectError(reason.message, Code.NotFound);
  // UpdateConsumer states its own conflicts as FAILED_PRECONDITION; a create meets an existing consumer.
  if (reason instanceof ConsumerConflictError) return new ConnectError(reason.message, Code.AlreadyExists);
  if (reason instanceof StoreUnavailableError || reason instanceof UploadExpiredError || reason instanceof StoreClosedError) {
    return new ConnectError(reason.message, Code.Unavailable, undefined, undefined, reason);
  }
  if (reason instanceof Error && reason.name === 'AbortError') return new ConnectError('call was cancelled', Code.Canceled);
  if (reason instanceof Error && reason.name === 'TimeoutError') return new ConnectError('deadline exceeded', Code.DeadlineExceeded);
  if (hasConnectionCause(reason)) return new ConnectError('storage is unreachable', Code.Unavailable, undefined, undefined, reason);
  logger.error({ err: reason }, 'unexpected failure');
  return new ConnectError('internal error', Code.Internal, undefined, undefined, reason);
}

function hasConnectionCause(reason: unknown): boolean {
  for (let current = reason, depth = 0; current instanceof Error && depth < 10; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && unavailableCodes.has(code)) return true;
  }
  return false;
}

/** The gRPC name of a code, as Prometheus labels and logs spell it: `INVALID_ARGUMENT`. */
export function codeName(code: Code | 'ok'): string {
  if (code === 'ok') return 'OK';
  // Connect spells it Canceled; gRPC (and every dashboard) CANCELLED.
  if (code === Code.Canceled) return 'CANCELLED';
  return Code[code].replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}
