/**
 * `npm start`: ingress and egress in one process over one store, embedded
 * (SQLite file + payload folder under MTS_DATA_DIR, default ./data) unless
 * STORAGE names another backend. Ports: INGRESS_PORT (50051), EGRESS_PORT (50052),
 * and each of them serves both services' RPCs, so one URL is enough for a client.
 * A development default: loopback only (SERVER_HOST=0.0.0.0 to open it) and
 * readable text logs when standard output is a terminal (LOG_FORMAT decides otherwise).
 *
 * Ingress and egress may also run as two processes on the same data folder
 * (`STORAGE=embedded npm run start:ingress` and `...start:egress`): SQLite in
 * WAL mode serialises their writes and every sequence stays gapless, but a
 * commit made by the other process cannot wake this one's subscribers, so
 * egress notices it by re-reading watched subjects every 250 ms — expect up
 * to that much extra delivery latency. One process shares the store and
 * notifies at once, which is why this entry point exists.
 */
import { egressService } from '../egress/connect.js';
import { ingressService } from '../ingress/connect.js';
import { runMain } from '../platform/run-main.js';
import { formatBanner } from './banner.js';

const defaults: Record<string, string> = {
  STORAGE: 'embedded',
  SERVER_HOST: '127.0.0.1',
  LOG_FORMAT: process.stdout.isTTY ? 'text' : 'json',
};
const env = { ...process.env };
for (const [name, value] of Object.entries(defaults)) if (!env[name]?.trim()) env[name] = value;
const started = await runMain([ingressService, egressService], env, { everyPortServesAll: true });
process.stderr.write(formatBanner(started));
