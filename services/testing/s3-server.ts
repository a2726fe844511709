import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import S3rver from 's3rver';

/** An in-process S3 server (s3rver) for one test. */
export interface S3Server {
  host: string;
  port: number;
  /** `host:port`, the form of MINIO_ENDPOINT. */
  endpoint: string;
  /** s3rver accepts any signature; these are what clients should send. */
  accessKey: string;
  secretKey: string;
  /** Its folder: an object is the file `<bucket>/<key>._S3rver_object` in it. */
  directory: string;
  /** Stops serving (connections are refused); stored objects are kept. */
  stop(): Promise<void>;
  /** Serves again on the same port and folder. */
  start(): Promise<void>;
  /**
   * Resolves when a request `matches` arrives (its headers read, its body not
   * yet): how a test knows an upload has begun, which it cannot list.
   */
  requested(matches: (method: string, path: string) => boolean): Promise<void>;
}

export interface StartS3ServerOptions {
  /** Port to listen on; default: any free one. */
  port?: number;
}

/** Starts s3rver on a loopback port with a temp folder; `t.after` stops it and removes the folder. */
export async function startS3Server(t: TestContext, options: StartS3ServerOptions = {}): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'mts-s3-'));
  const host = '127.0.0.1';
  let running: S3rver | undefined;
  let port = options.port ?? 0;
  const awaited = new Set<(method: string, path: string) => void>();

  async function start() {
    if (running !== undefined) throw new Error('s3rver is already running');
    const server = new S3rver({ address: host, port, silent: true, directory, resetOnClose: false });
    const address = await server.run();
    server.httpServer?.on('request', (request: IncomingMessage) =>
      awaited.forEach((seen) => seen(request.method ?? '', request.url ?? '')),
    );
    running = server;
    port = address.port;
  }

  const handle: S3Server = {
    host,
    get port() {
      return port;
    },
    get endpoint() {
      return `${host}:${port}`;
    },
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    directory,
    async stop() {
      const server = running;
      running = undefined;
      if (server === undefined) return;
      const closing = server.close();
      // Kept-alive client sockets would otherwise go on being served.
      server.httpServer?.closeAllConnections();
      await closing;
    },
    start,
    requested(matches) {
      return new Promise((resolve) => {
        const seen = (method: string, path: string) => {
          if (!matches(method, path)) return;
          awaited.delete(seen);
          resolve();
        };
        awaited.add(seen);
      });
    },
  };
  t.after(async () => {
    await handle.stop();
    await rm(directory, { recursive: true, force: true });
  });
  await start();
  return handle;
}
