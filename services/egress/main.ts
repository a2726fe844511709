import { runMain } from '../platform/run-main.js';
import { egressService } from './connect.js';

await runMain([egressService]);
