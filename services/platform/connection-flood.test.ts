import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { eventually } from '../testing/conformance-harness.js';
import { describeProbes, startProbing } from '../testing/health-probe.js';
import { metricValue } from '../testing/metric-value.js';
import { spawnService } from '../testing/service-process.js';
import { CONNECTIONS_OPEN, CONNECTIONS_REFUSED } from './metrics.js';

// The attack: 20,000 idle connections. MTS_FLOOD_CONNECTIONS sets another count.
const attempts = Number(process.env.MTS_FLOOD_CONNECTIONS ?? 20_000);
const attackers = Array.from({ length: 10 }, (_, index) => `127.0.0.${11 + index}`);
const prober = '127.0.0.99';
const batch = 250;
const run = promisify(execFile);

/** Established connections of the server's port whose peer is one of `addresses`, as `ss` lists them. */
async function establishedFrom(port: string, addresses: string[]): Promise<number> {
  const { stdout } = await run('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const peers = new Set(addresses);
  return stdout.split('\n').filter((line) => peers.has(line.trim().split(/\s+/).at(-1)?.replace(/:\d+$/, '') ?? '')).length;
}

/** Connections the server's listening socket has completed but not yet accepted. */
async function acceptQueue(port: string): Promise<number> {
  const { stdout } = await run('ss', ['-Hltn', `( sport = :${port} )`]);
  return Number(stdout.trim().split(/\s+/)[1]);
}

/**
 * Opens `attempts` connections round-robin from the attacker addresses, in
 * batches the listen backlog can hold (beyond it the kernel completes
 * handshakes the server never sees), and keeps every one the server lets stay.
 */
async function flood(url: string): Promise<net.Socket[]> {
  const { hostname, port } = new URL(url);
  const sockets: net.Socket[] = [];
  for (let first = 0; first < attempts; first += batch) {
    let connecting = 0;
    for (let index = first; index < Math.min(attempts, first + batch); index++) {
      const socket = net.connect({ host: hostname, port: Number(port), localAddress: attackers[index % attackers.length] });
      connecting += 1;
      const settled = () => (connecting -= 1);
      socket.once('connect', settled);
      socket.once('error', () => {
        if (socket.connecting) settled();
      });
      sockets.push(socket);
    }
    await eventually(async () => connecting === 0 && (await acceptQueue(port)) === 0, 30_000);
  }
  return sockets;
}

test('a flood of idle connections is capped per address and /healthz from another address is still served', async (t) => {
  // Both sides hold the admitted connections (one descriptor each): stay under this process's limit.
  const descriptorLimit = Number((await run('sh', ['-c', 'ulimit -n'])).stdout);
  const perAddress = Math.min(800, Math.floor((descriptorLimit - 2000) / attackers.length));
  assert.ok(perAddress > 0, `ulimit -n ${descriptorLimit} leaves no room for the flood`);
  const held = Math.min(attempts, perAddress * attackers.length);
  const dataDir = await mkdtemp(join(tmpdir(), 'mts-flood-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const service = await spawnService(t, 'egress', {
    STORAGE: 'embedded',
    MTS_DATA_DIR: dataDir,
    MAX_CONNECTIONS_PER_ADDRESS: String(perAddress),
    // Long enough that no held connection times out during the test: the caps alone are tested.
    FIRST_BYTES_TIMEOUT_MS: '600000',
  });

  const stopProbing = startProbing(service.url, prober);
  const startedAt = performance.now();
  const sockets = await flood(service.url);
  t.after(() => sockets.forEach((socket) => socket.destroy()));
  // Counted on the server's side, as it sees the refused ones close.
  const port = new URL(service.url).port;
  await eventually(async () => (await establishedFrom(port, attackers)) === held, 60_000);
  const floodSeconds = (performance.now() - startedAt) / 1000;
  const probes = await stopProbing();

  assert.deepEqual(probes.failures, [], 'every probe was served');
  assert.ok(probes.served > 0);
  // The probe's and the scrape's own connections come on top of the flood.
  assert.ok((await metricValue(service.url, CONNECTIONS_OPEN)) >= held);
  const refused = await metricValue(service.url, CONNECTIONS_REFUSED, { limit: 'per_address' });
  assert.equal(refused, attempts - held);
  const warnings = service.stdout().match(/connections refused: MAX_CONNECTIONS_PER_ADDRESS=\d+ reached/g) ?? [];
  const expected = attempts > held ? [1, Math.ceil(floodSeconds / 10) + 1] : [0, 0];
  assert.ok(warnings.length >= expected[0]! && warnings.length <= expected[1]!, `${warnings.length} warnings in ${floodSeconds} s`);
  t.diagnostic(
    `${attempts} connections from ${attackers.length} addresses in ${floodSeconds.toFixed(1)} s: ${held} held, ` +
      `${refused} refused (ulimit -n ${descriptorLimit}); ${describeProbes(probes)}`,
  );
});
