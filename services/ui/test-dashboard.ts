import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { createEgressService, type EgressOptions } from '../egress/connect.js';
import { startTestServices, type TestServices, type TestServicesOptions } from '../testing/test-services.js';
import { buildDashboard } from './build.js';

/** The services with the dashboard built into a temp folder, publishing to this ingress unless `egressEnv` says otherwise. */
export async function startWithDashboard(
  t: TestContext,
  env: Record<string, string> = {},
  egressOptions: EgressOptions = {},
  egressEnv: TestServicesOptions['egressEnv'] = (ingress) => ({ UI_INGRESS_URL: ingress.url }),
): Promise<TestServices> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mts-ui-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  await buildDashboard(dir);
  return startTestServices(t, {
    env,
    egress: createEgressService({ ...egressOptions, dashboardDir: dir }),
    egressEnv,
  });
}
