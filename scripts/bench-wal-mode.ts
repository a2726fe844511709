/**
 * The cost of TARANTOOL_WAL_MODE=fsync: metadata commits of 1 KiB inline
 * messages straight into a Tarantool running services/tarantool/init.lua
 * (no services, no object store), from N concurrent callers, one message per
 * commit (what Publish does today) and 100 per commit (what a grouped commit
 * does). Modes alternate each round, so the spread between rounds of one mode
 * shows the machine's noise. Usage:
 *   node --import tsx scripts/bench-wal-mode.ts [--rounds 2] [--seconds 3]
 */
import { parseArgs } from 'node:util';
import { openTarantoolMetadataStore } from '../services/store/tarantool/metadata-store.js';
import type { MetadataRecord } from '../services/store/store.js';
import { waitUntilConnected } from '../services/testing/tarantool-backend.js';
import { launchTarantool } from '../services/testing/tarantool-server.js';

const { values: flags } = parseArgs({
  options: { rounds: { type: 'string', default: '2' }, seconds: { type: 'string', default: '3' } },
});
const rounds = Number(flags.rounds);
const seconds = Number(flags.seconds);
const loads = [
  { callers: 1, batch: 1 },
  { callers: 16, batch: 1 },
  { callers: 64, batch: 1 },
  { callers: 4, batch: 100 },
];
const data = new Uint8Array(1024).fill(42);

async function measure(mode: 'write' | 'fsync'): Promise<void> {
  // A memtx arena that holds every message the run writes.
  const tarantool = await launchTarantool({ env: { TARANTOOL_WAL_MODE: mode, TARANTOOL_MEMTX_MEMORY: String(1024 ** 3) } });
  const metadata = openTarantoolMetadataStore({ ...tarantool, callTimeoutMs: 30_000 });
  try {
    await waitUntilConnected(metadata);
    for (const { callers, batch } of loads) {
      const records: MetadataRecord[] = Array.from({ length: batch }, () => ({
        subject: `bench.${callers}.${batch}`,
        timestampMs: Date.now(),
        headers: {},
        size: data.byteLength,
        inline: data,
        objectKey: '',
      }));
      const deadline = performance.now() + seconds * 1000;
      let commits = 0;
      const startedAt = performance.now();
      await Promise.all(
        Array.from({ length: callers }, async () => {
          while (performance.now() < deadline) {
            await metadata.commit(records);
            commits++;
          }
        }),
      );
      const elapsedS = (performance.now() - startedAt) / 1000;
      console.log(
        `${mode.padEnd(5)} callers ${String(callers).padStart(2)} x ${String(batch).padStart(3)} per commit: ` +
          `${Math.round(commits / elapsedS)} commits/s, ${Math.round((commits * batch) / elapsedS)} msg/s`,
      );
    }
  } finally {
    await metadata.close();
    await tarantool.remove();
  }
}

for (let round = 1; round <= rounds; round++) {
  console.log(`round ${round}`);
  await measure('write');
  await measure('fsync');
}
