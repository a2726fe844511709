import { runMain } from '../platform/run-main.js';
import { ingressService } from './connect.js';

await runMain([ingressService]);
