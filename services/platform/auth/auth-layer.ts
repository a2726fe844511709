import type { HandlerContext, Interceptor } from '@connectrpc/connect';
import type { AuthConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import { AuthFailure } from './auth-failure.js';
import { openKeySource, type KeySourceOptions } from './key-source.js';
import { accessRule, permitted, type AccessRule } from './permission-table.js';
import { principalKey, type Client } from './principal.js';
import { subjectAllowed } from './subject-patterns.js';
import { verifyToken } from './token-verifier.js';

/**
 * Authentication and authorization of every RPC, in two steps:
 * - `requestGate` runs on the request headers, before the body is read, so an
 *   unauthenticated caller cannot make the server read a large message. It
 *   refuses methods missing from the permission table (default deny),
 *   verifies the bearer token and puts the caller under {@link principalKey}.
 * - `interceptor` sees the parsed request and checks the permission on each
 *   subject it names (every message of a batch; every request of a client or
 *   bidi stream as it is read, a refused one ending the stream).
 */
export interface AuthLayer {
  requestGate(context: HandlerContext): Promise<void>;
  interceptor: Interceptor;
  close(): void;
}

export interface AuthLayerOptions extends KeySourceOptions {
  metrics: Metrics;
}

const bearer = /^Bearer +([^\s]+)$/i;

/** The auth layer of `config`, or undefined when AUTH_MODE=disabled. */
export async function openAuthLayer(config: AuthConfig, options: AuthLayerOptions): Promise<AuthLayer | undefined> {
  if (config.mode === 'disabled') return undefined;
  const keys = await openKeySource(config, options);
  // Counted where it is raised, so each refusal is counted once whichever step raises it.
  const refused = (failure: AuthFailure): AuthFailure => {
    options.metrics.authFailures.inc({ reason: failure.reason });
    return failure;
  };
  const protectedRule = (context: Pick<HandlerContext, 'service' | 'method'>): Exclude<AccessRule, { open: true }> | undefined => {
    const rule = accessRule(context.service.typeName, context.method.name);
    if (rule === undefined)
      throw refused(new AuthFailure('permission_denied', `${context.service.typeName}/${context.method.name} is not open to any caller`));
    return rule.open ? undefined : rule;
  };

  return {
    async requestGate(context) {
      if (protectedRule(context) === undefined) return;
      const header = context.requestHeader.get('authorization');
      if (header === null || header.trim() === '') {
        if (config.mode === 'optional') {
          context.values.set(principalKey, { kind: 'anonymous' });
          return;
        }
        throw refused(new AuthFailure('missing', 'authorization required: send "authorization: Bearer <token>"'));
      }
      const token = bearer.exec(header.trim())?.[1];
      if (token === undefined) throw refused(new AuthFailure('malformed', 'authorization header is not "Bearer <token>"'));
      try {
        context.values.set(principalKey, await verifyToken(token, keys, config));
      } catch (error) {
        if (error instanceof AuthFailure) throw refused(error);
        throw error;
      }
    },

    interceptor: (next) => async (request) => {
      const rule = protectedRule(request);
      const principal = request.contextValues.get(principalKey);
      if (rule === undefined || principal?.kind === 'anonymous') return next(request);
      if (principal === undefined) throw refused(new AuthFailure('missing', 'authorization required'));
      if (!request.stream) {
        authorize(principal, rule, request.message);
        return next(request);
      }
      if (request.method.methodKind === 'server_streaming') {
        // The one request message is checked before the handler starts.
        const input = request.message[Symbol.asyncIterator]();
        const first = await input.next();
        if (first.done !== true) authorize(principal, rule, first.value);
        return next({ ...request, message: replay(first, input) });
      }
      // Client and bidi streams: each request is checked as the handler reads it, and a refused one ends the stream.
      return next({ ...request, message: authorizeEach(principal, rule, request.message) });
    },

    close: () => keys.close(),
  };

  /**
   * The caller may call the method and use every subject the message names:
   * its `subject`, or the `subject` of each of its `messages` or `acks` (a batch). A
   * listing may name no subject; it shows only what the token allows (the
   * handler filters).
   */
  function authorize(client: Client, rule: { anyOf: readonly string[]; listing?: true }, message: unknown): void {
    const subjects = subjectsOf(message);
    const listsAll = rule.listing === true && (subjects === undefined || (subjects.length === 1 && subjects[0] === ''));
    if (subjects === undefined && !listsAll) throw refused(new AuthFailure('permission_denied', 'request names no subject'));
    if (!permitted(rule, client.permissions)) {
      throw refused(new AuthFailure('permission_denied', `token does not grant ${rule.anyOf.join(' or ')}`));
    }
    if (listsAll || subjects === undefined) return;
    const allowed = new Set<string>();
    for (const subject of subjects) {
      if (allowed.has(subject)) continue;
      if (!subjectAllowed(client.allowedSubjects, subject)) {
        throw refused(new AuthFailure('permission_denied', `token does not allow subject "${subject}"`));
      }
      allowed.add(subject);
    }
  }

  async function* authorizeEach<T>(client: Client, rule: { anyOf: readonly string[] }, input: AsyncIterable<T>): AsyncGenerator<T> {
    for await (const message of input) {
      authorize(client, rule, message);
      yield message;
    }
  }
}

/** The subjects a request names, or undefined if it names none in a known shape. */
function subjectsOf(message: unknown): string[] | undefined {
  const { subject, messages, acks } = message as { subject?: unknown; messages?: unknown; acks?: unknown };
  if (typeof subject === 'string') return [subject];
  // A batch of messages (publish) or of acknowledgements (AckMessages): each item names its subject.
  const items = Array.isArray(messages) ? messages : acks;
  if (!Array.isArray(items)) return undefined;
  const subjects = items.map((item) => (item as { subject?: unknown }).subject);
  return subjects.every((item) => typeof item === 'string') ? (subjects as string[]) : undefined;
}

/** The stream as it was, with its first element already taken. */
async function* replay<T>(first: IteratorResult<T>, rest: AsyncIterator<T>): AsyncGenerator<T> {
  if (first.done === true) return;
  yield first.value;
  for (let next = await rest.next(); next.done !== true; next = await rest.next()) yield next.value;
}
