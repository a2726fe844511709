import { createClient, type Client, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';
import { UsageError } from './args.js';
import { wrongServiceHint } from './wrong-service.js';

export interface ClientOptions {
  ingress: string;
  egress: string;
  protocol: string;
  /** Sent as `authorization: Bearer <token>` on every call when set. */
  token?: string | undefined;
}

export interface Clients {
  ingress: Client<typeof IngressService>;
  egress: Client<typeof EgressService>;
}

// Several multi-MiB calls in flight on one connection exceed Node's default
// 10 MB HTTP/2 session budget (ENHANCE_YOUR_CALM), and 64 KiB windows cost a
// round trip per 64 KiB of a large message.
const http2Options = { maxSessionMemory: 256, settings: { initialWindowSize: 4 * 1024 * 1024 } };

/**
 * Generated clients for both services. gRPC runs over cleartext HTTP/2 with
 * one connection per service, reused by every call; Connect over HTTP/1.1
 * reaches the same handlers through proxies that speak only HTTP/1.
 */
export function createClients(options: ClientOptions): Clients {
  if (options.protocol !== 'grpc' && options.protocol !== 'connect') {
    throw new UsageError(`--protocol "${options.protocol}" is not one of grpc, connect`);
  }
  const auth: Interceptor[] = options.token ? [bearer(options.token)] : [];
  const transport = (flag: 'ingress' | 'egress', url: string): Transport => {
    const baseUrl = checkUrl(flag, url);
    const plain = (interceptors: Interceptor[]): Transport =>
      options.protocol === 'grpc'
        ? createGrpcTransport({ baseUrl, interceptors, nodeOptions: http2Options })
        : createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors });
    return plain([wrongServiceHint(flag, url, () => plain(auth)), ...auth]);
  };
  return {
    ingress: createClient(IngressService, transport('ingress', options.ingress)),
    egress: createClient(EgressService, transport('egress', options.egress)),
  };
}

function bearer(token: string): Interceptor {
  return (next) => (request) => {
    request.header.set('authorization', `Bearer ${token}`);
    return next(request);
  };
}

function checkUrl(flag: string, url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--${flag} "${url}" is not a URL such as http://127.0.0.1:50051`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`--${flag} "${url}" must start with http:// or https://`);
  }
  return url;
}
