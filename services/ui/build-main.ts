/** `npm run build`: the dashboard into dist/ui, where egress serves it from. */
import { buildDashboard } from './build.js';

const { files } = await buildDashboard('dist/ui');
const total = Object.values(files).reduce((sum, size) => sum + size, 0);
process.stdout.write(`dashboard: dist/ui, ${Object.keys(files).length} files, ${(total / 1024).toFixed(1)} KiB\n`);
