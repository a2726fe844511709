/**
 * The transport's own cost: a storage-free connect-node server (scripts/transport-bench/server.ts)
 * in a child process, loaded by h2load (Debian's nghttp2-client) over cleartext HTTP/2 gRPC:
 *   - unary: EgressService.GetLastSequence, 50 calls in flight on one connection;
 *   - stream: EgressService.Fetch, 4 server streams in flight, each 1,000 frames of a 1 KiB message.
 * Prints calls/s and frames/s, and the server's CPU time per call and per frame (process.cpuUsage
 * around each measured run), which is steadier than rates on a shared machine.
 *   - client: the connect-node gRPC client instead of h2load (scripts/transport-bench/client.ts,
 *     its own process): IngressService.Publish with a 1 KiB payload, 64 calls in flight; prints
 *     calls/s and the client's and the server's CPU time per call.
 *
 * --compare runs, alternately, the installed (patched) connect-node and a copy of it with the
 * patches in patches/ reversed, so both sides are measured in the same run (for the client
 * workload the client alternates; the server is the installed one).
 *
 * Usage: npm run bench:transport -- [--seconds 5] [--rounds 2] [--compare] [--workload unary|stream|both|client]
 *        [--cpu-prof DIR]   (one .cpuprofile per server or client process, in DIR/<variant>/)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { create, toBinary, type DescMessage, type MessageInitShape } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { EgressService, FetchRequestSchema, GetLastSequenceRequestSchema } from '../gen/minitoolstream/egress_pb.js';
import { createUnpatchedConnect, type UnpatchedConnect } from '../services/testing/unpatched-connect.js';

const repoRoot = dirname(dirname(fileURLToPath(import.meta.url)));
const framesPerStream = 1000;
const warmUpUnits = 20_000;
/** The client workload stops at this many measured calls even when time is left. */
const maxClientCalls = 200_000;
const { values: options } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    compare: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    workload: { type: 'string', default: 'both' },
  },
});
const seconds = Number(options.seconds);
const rounds = Number(options.rounds);

interface Variant {
  label: string;
  /** The connect and connect-node modules to load; undefined = the installed ones. */
  entry: UnpatchedConnect | undefined;
}

interface Server {
  url: string;
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

/** A bench process (server or client) with the variant's library, profiled when --cpu-prof is given. */
function spawnBenchProcess(script: string, variant: Variant, env: Record<string, string> = {}) {
  const profile = options['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', join(options['cpu-prof'], variant.label)] : [];
  const entries = variant.entry ? { CONNECT_ENTRY: variant.entry.connect, CONNECT_NODE_ENTRY: variant.entry.connectNode } : {};
  return spawn(process.execPath, [...profile, '--import', 'tsx', join(repoRoot, 'scripts/transport-bench', script)], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...entries, ...env },
  });
}

async function startServer(variant: Variant): Promise<Server> {
  const child = spawnBenchProcess('server.ts', variant);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the bench server did not start within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`the bench server exited with ${code}`)));
    child.on('message', (message: { port?: number }) => {
      if (message.port === undefined) return;
      clearTimeout(timer);
      resolve(message.port);
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    cpuMicros: () =>
      new Promise((resolve) => {
        const onMessage = (message: { cpu?: NodeJS.CpuUsage }) => {
          if (!message.cpu) return;
          child.off('message', onMessage);
          resolve(message.cpu.user + message.cpu.system);
        };
        child.on('message', onMessage);
        child.send('cpu');
      }),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send('stop');
      }),
  };
}

/** A gRPC request body: the 5-byte envelope header and the protobuf. */
function grpcBody<Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>): string {
  const message = toBinary(schema, create(schema, init));
  const body = Buffer.alloc(5 + message.length);
  body.writeUInt32BE(message.length, 1);
  body.set(message, 5);
  const file = join(work, `${schema.typeName}.grpc`);
  writeFileSync(file, body);
  return file;
}

interface H2loadResult {
  succeeded: number;
  seconds: number;
}

/** One h2load run: for `seconds`, or `{ requests }` in all. */
function h2load(url: string, bodyFile: string, streams: number, length: number | { requests: number }): H2loadResult {
  const limit = typeof length === 'number' ? ['-D', String(length)] : ['-n', String(length.requests)];
  const result = spawnSync(
    'h2load',
    ['-c', '1', '-m', String(streams), ...limit, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-d', bodyFile, url],
    { encoding: 'utf8', timeout: (seconds + 120) * 1000 },
  );
  if (result.status !== 0) throw new Error(`h2load failed: ${result.error ?? ''}${result.stdout}${result.stderr}`);
  const finished = /finished in ([\d.]+)(m?s),/.exec(result.stdout);
  const requests = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(result.stdout);
  if (!finished || !requests) throw new Error(`unexpected h2load output:\n${result.stdout}`);
  if (requests[2] !== '0') throw new Error(`h2load saw failed requests:\n${result.stdout}`);
  const elapsed = Number(finished[1]) / (finished[2] === 'ms' ? 1000 : 1);
  return { succeeded: Number(requests[1]), seconds: elapsed };
}

/** One call of each kind through a real gRPC client: the server answers correctly. */
async function checkAnswers(url: string): Promise<void> {
  const client = createClient(EgressService, createGrpcTransport({ baseUrl: url }));
  const last = await client.getLastSequence({ subject: 'bench' });
  if (last.lastSequence !== 5n) throw new Error(`GetLastSequence answered ${last.lastSequence}`);
  let frames = 0;
  for await (const message of client.fetch({ subject: 'bench', batchSize: 3 })) {
    frames++;
    if (message.data.length !== 1024) throw new Error('Fetch sent a message without its payload');
  }
  if (frames !== 3) throw new Error(`Fetch sent ${frames} messages, not 3`);
}

interface Measurement {
  rate: number;
  cpuMicrosPerUnit: number;
}

async function measure(server: Server, bodyFile: string, path: string, streams: number, unitsPerRequest: number): Promise<Measurement> {
  const url = server.url + path;
  // Warm-up by count, not time: the JIT has seen as many calls however busy the machine is.
  h2load(url, bodyFile, streams, { requests: warmUpUnits / unitsPerRequest });
  const cpuBefore = await server.cpuMicros();
  const run = h2load(url, bodyFile, streams, seconds);
  const cpuMicros = (await server.cpuMicros()) - cpuBefore;
  const units = run.succeeded * unitsPerRequest;
  return { rate: units / run.seconds, cpuMicrosPerUnit: cpuMicros / units };
}

interface ClientMeasurement {
  rate: number;
  clientCpuMicrosPerCall: number;
  serverCpuMicrosPerCall: number;
}

/** One run of scripts/transport-bench/client.ts with the variant's library against `server`. */
async function measureClient(server: Server, variant: Variant): Promise<ClientMeasurement> {
  const serverCpuBefore = await server.cpuMicros();
  const child = spawnBenchProcess('client.ts', variant, {
    BENCH_URL: server.url,
    BENCH_WARM_UP: String(warmUpUnits),
    BENCH_SECONDS: String(seconds),
    BENCH_MAX_CALLS: String(maxClientCalls),
  });
  const result = await new Promise<{ calls: number; seconds: number; cpuMicros: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the bench client did not finish within its time and 120 s')), (seconds + 120) * 1000);
    child.once('exit', (code) => reject(new Error(`the bench client exited with ${code}`)));
    child.once('message', (message: { calls: number; seconds: number; cpuMicros: number }) => {
      clearTimeout(timer);
      resolve(message);
    });
  });
  await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)));
  // The server's CPU covers the warm-up too: per call of both runs.
  const serverCpuMicros = (await server.cpuMicros()) - serverCpuBefore;
  return {
    rate: result.calls / result.seconds,
    clientCpuMicrosPerCall: result.cpuMicros / result.calls,
    serverCpuMicrosPerCall: serverCpuMicros / (result.calls + warmUpUnits),
  };
}

function column(value: number | undefined, digits: number, width: number): string {
  return (value === undefined ? '-' : value.toFixed(digits)).padStart(width);
}

async function serverRounds(variants: Variant[], unaryBody: string, streamBody: string): Promise<void> {
  console.log(`server: connect-node over node:http2 (h2c); client: h2load, 1 connection; ${seconds} s per run`);
  console.log('variant      round  unary calls/s  µs CPU/call  stream frames/s  µs CPU/frame');
  for (let round = 1; round <= rounds; round++) {
    for (const variant of variants) {
      const server = await startServer(variant);
      try {
        await checkAnswers(server.url);
        const unary =
          options.workload === 'stream'
            ? undefined
            : await measure(server, unaryBody, '/minitoolstream.EgressService/GetLastSequence', 50, 1);
        const stream =
          options.workload === 'unary'
            ? undefined
            : await measure(server, streamBody, '/minitoolstream.EgressService/Fetch', 4, framesPerStream);
        console.log(
          `${variant.label.padEnd(12)} ${String(round).padStart(5)}  ${column(unary?.rate, 0, 13)}  ${column(unary?.cpuMicrosPerUnit, 1, 11)}  ${column(stream?.rate, 0, 15)}  ${column(stream?.cpuMicrosPerUnit, 2, 12)}`,
        );
      } finally {
        await server.stop();
      }
    }
  }
}

async function clientRounds(variants: Variant[]): Promise<void> {
  console.log(`client: connect-node gRPC, Publish 1 KiB, 64 in flight, 1 connection; server: installed connect-node; ${seconds} s per run`);
  console.log('client variant  round  calls/s  client µs CPU/call  server µs CPU/call');
  const server = await startServer({ label: 'server', entry: undefined });
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const variant of variants) {
        const client = await measureClient(server, variant);
        console.log(
          `${variant.label.padEnd(14)} ${String(round).padStart(5)}  ${column(client.rate, 0, 7)}  ${column(client.clientCpuMicrosPerCall, 1, 18)}  ${column(client.serverCpuMicrosPerCall, 1, 18)}`,
        );
      }
    }
  } finally {
    await server.stop();
  }
}

const work = mkdtempSync(join(tmpdir(), 'mts-bench-transport-'));
try {
  const unaryBody = grpcBody(GetLastSequenceRequestSchema, { subject: 'bench' });
  const streamBody = grpcBody(FetchRequestSchema, { subject: 'bench', batchSize: framesPerStream });
  const installed: Variant = { label: options.compare ? 'patched' : 'installed', entry: undefined };
  const unpatched: Variant | undefined = options.compare
    ? { label: 'unpatched', entry: createUnpatchedConnect(join(work, 'unpatched')) }
    : undefined;
  const variants = unpatched ? [unpatched, installed] : [installed];
  if (options.workload === 'client') await clientRounds(variants);
  else await serverRounds(variants, unaryBody, streamBody);
} finally {
  rmSync(work, { recursive: true, force: true });
}
