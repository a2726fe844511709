import type { Principal } from './principal.js';
import { AuthFailure } from './auth-failure.js';

/**
 * The store name of a durable consumer: with auth on, a client's durables live
 * under its own namespace, `<client_id>/<name>` (client id percent-encoded so
 * it holds no `/`). Two clients using the same durable name therefore get two
 * consumers, and no name a client can send reaches another client's consumer.
 * Anonymous callers (AUTH_MODE=optional) keep plain names, which never contain
 * `/`, so they cannot reach a namespaced one either; with auth disabled names
 * pass unchanged.
 */
export function durableKey(principal: Principal | undefined, name: string): string {
  if (principal === undefined) return name;
  if (principal.kind === 'client') return `${encodeURIComponent(principal.clientId)}/${name}`;
  if (name.includes('/')) {
    throw new AuthFailure('anonymous_namespace', 'durable names containing "/" belong to authenticated clients; send a token');
  }
  return name;
}
