/**
 * `npm start`: ingress and egress in one process over one store, embedded
 * (SQLite file + payload folder under MTS_DATA_DIR, default ./data) unless
 * STORAGE names another backend. Ports: INGRESS_PORT (50051), EGRESS_PORT (50052).
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

const env = process.env.STORAGE?.trim() ? process.env : { ...process.env, STORAGE: 'embedded' };
const started = await runMain([ingressService, egressService], env);
process.stderr.write(formatBanner(started));
