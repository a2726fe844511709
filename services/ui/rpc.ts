import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';

const tokenKey = 'mts.token';

/** The bearer token of this tab; session storage, so it ends with the tab. */
export function savedToken(): string {
  return sessionStorage.getItem(tokenKey) ?? '';
}

export function saveToken(token: string): void {
  if (token === '') sessionStorage.removeItem(tokenKey);
  else sessionStorage.setItem(tokenKey, token);
}

const bearer: Interceptor = (next) => (request) => {
  const token = savedToken();
  if (token !== '') request.header.set('authorization', `Bearer ${token}`);
  return next(request);
};

export interface Clients {
  egress: Client<typeof EgressService>;
  ingress: Client<typeof IngressService>;
}

/** Connect clients: egress on this page's origin, ingress where the server says. */
export function createClients(ingressUrl: string): Clients {
  const transport = (baseUrl: string) => createConnectTransport({ baseUrl, useBinaryFormat: true, interceptors: [bearer] });
  return {
    egress: createClient(EgressService, transport(location.origin)),
    ingress: createClient(IngressService, transport(ingressUrl)),
  };
}

/** An error as gRPC names it: `permission_denied: <message>`. */
export function describeError(error: unknown): { code: Code; text: string } {
  const { code, rawMessage } = ConnectError.from(error);
  const name = Code[code].replace(/[A-Z]/g, (letter, index: number) => (index === 0 ? '' : '_') + letter.toLowerCase());
  return { code, text: `${name}: ${rawMessage}` };
}
