/**
 * The client side of scripts/bench-transport.ts's client workload: a connect-node gRPC client
 * in its own process calling IngressService.Publish (1 KiB payload) with 64 calls in flight
 * against the storage-free server at BENCH_URL, so its CPU time is the client library's alone.
 *
 * CONNECT_ENTRY and CONNECT_NODE_ENTRY name the connect and connect-node modules to load
 * (default: the installed ones), so the bench can run an unpatched copy beside the patched
 * install. It runs BENCH_WARM_UP calls uncounted, then calls for BENCH_SECONDS (at most
 * BENCH_MAX_CALLS calls), and sends { calls, seconds, cpuMicros } to its parent over IPC.
 */
import type * as Connect from '@connectrpc/connect';
import type * as ConnectNode from '@connectrpc/connect-node';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';

const { createClient } = (await import(process.env.CONNECT_ENTRY ?? '@connectrpc/connect')) as typeof Connect;
const { createGrpcTransport } = (await import(process.env.CONNECT_NODE_ENTRY ?? '@connectrpc/connect-node')) as typeof ConnectNode;
const inFlight = 64;
const client = createClient(IngressService, createGrpcTransport({ baseUrl: process.env.BENCH_URL! }));
const message = { subject: 'bench', data: new Uint8Array(1024).fill(120) };

/** Calls with `inFlight` callers until `count` calls are made or `deadline` (performance.now()) passes. */
async function run(count: number, deadline: number): Promise<number> {
  let started = 0;
  const caller = async (): Promise<void> => {
    while (started < count && performance.now() < deadline) {
      started++;
      const answer = await client.publish(message);
      if (answer.sequence !== 1n) throw new Error(`Publish answered sequence ${answer.sequence}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, caller));
  return started;
}

await run(Number(process.env.BENCH_WARM_UP), Number.POSITIVE_INFINITY);
const cpuBefore = process.cpuUsage();
const started = performance.now();
const calls = await run(Number(process.env.BENCH_MAX_CALLS), started + Number(process.env.BENCH_SECONDS) * 1000);
const cpu = process.cpuUsage(cpuBefore);
process.send!({ calls, seconds: (performance.now() - started) / 1000, cpuMicros: cpu.user + cpu.system }, () => process.exit(0));
