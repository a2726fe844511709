/**
 * Proves the image's runtime layout without Docker: compile as the build stage does, install
 * production dependencies only as the runtime stage does (native addons built), then start each
 * service with the image's own CMD (read from the Dockerfile) and check /healthz answers over
 * HTTP/1.1 while Tarantool and MinIO are unreachable.
 *
 * The production node_modules is cached in the temp folder, keyed like Docker's layer cache
 * (package.json, package-lock.json, patches/, Node version), because compiling better-sqlite3
 * takes longer than the rest of the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../services/testing/free-port.js';

const repoRoot = dirname(dirname(fileURLToPath(import.meta.url)));
const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const patchFiles = readdirSync(join(repoRoot, 'patches')).map((file) => join('patches', file));
// What the Dockerfile copies before `npm ci`: postinstall applies patches/ (patch-package).
const manifestFiles = ['package.json', 'package-lock.json', ...patchFiles];

/** The runtime CMD: ["/bin/sh", "-c", "<command using $SERVICE>"]. */
function imageCommand(): string[] {
  const lines = dockerfile.split('\n').filter((line) => line.startsWith('CMD '));
  assert.equal(lines.length, 1, 'the Dockerfile has one CMD');
  return JSON.parse(lines[0]!.slice(4)) as string[];
}

function run(command: string, args: string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 300_000 });
  assert.equal(result.status, 0, `${command} ${args.join(' ')}: ${result.stdout}${result.stderr}`);
}

/** `npm ci --omit=dev` in a folder holding only the manifest files, cached. */
function productionNodeModules(): string {
  const hash = createHash('sha256');
  for (const file of manifestFiles) hash.update(readFileSync(join(repoRoot, file)));
  hash.update(`${process.version} ${process.platform} ${process.arch}`);
  const cached = join(tmpdir(), `minitoolstream-production-deps-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(join(cached, 'node_modules'))) return join(cached, 'node_modules');
  const staging = mkdtempSync(join(tmpdir(), 'mts-deps-'));
  mkdirSync(join(staging, 'patches'));
  for (const file of manifestFiles) copyFileSync(join(repoRoot, file), join(staging, file));
  run('npm', ['ci', '--omit=dev', '--ignore-scripts=false', '--prefer-offline', '--no-audit', '--no-fund'], staging);
  try {
    renameSync(staging, cached);
  } catch {
    // Another run finished first; its copy is the same.
    rmSync(staging, { recursive: true, force: true });
  }
  return join(cached, 'node_modules');
}

async function waitForStatus(url: string, child: ChildProcess, output: () => string): Promise<number> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    assert.equal(child.exitCode, null, `the service exited early:\n${output()}`);
    try {
      return (await fetch(url)).status;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  assert.fail(`${url} did not answer within 20 s:\n${output()}`);
}

test('the image layout starts both services from production dependencies', { timeout: 600_000 }, async (t) => {
  assert.match(dockerfile, /^ARG NODE_IMAGE=node:22\.\d+\.\d+-bookworm-slim$/m, 'base image pinned by tag');
  assert.match(dockerfile, /RUN npm ci --omit=dev/);
  assert.match(dockerfile, /^COPY patches \.\/patches$[^]*^RUN npm ci$/m, 'patches/ is in the image before npm ci');
  assert.doesNotMatch(dockerfile, /^HEALTHCHECK/m);

  const app = mkdtempSync(join(tmpdir(), 'mts-image-'));
  t.after(() => rmSync(app, { recursive: true, force: true }));
  run(
    process.execPath,
    [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(app, 'dist')],
    repoRoot,
  );
  copyFileSync(join(repoRoot, 'package.json'), join(app, 'package.json'));
  const nodeModules = productionNodeModules();
  symlinkSync(nodeModules, join(app, 'node_modules'), 'dir');
  for (const file of [
    '@connectrpc/connect/dist/esm/protocol-grpc/handler-factory.js',
    '@connectrpc/connect-node/dist/esm/node-universal-handler.js',
  ]) {
    assert.equal(
      readFileSync(join(nodeModules, file), 'utf8'),
      readFileSync(join(repoRoot, 'node_modules', file), 'utf8'),
      `${file} is patched in the production install as in the development one`,
    );
  }

  const [shell, ...shellArgs] = imageCommand();
  for (const service of ['ingress', 'egress']) {
    await t.test(service, async (st) => {
      assert.ok(existsSync(join(app, 'dist/services', service, 'main.js')), `dist/services/${service}/main.js was not built`);
      const [port, closedTarantool, closedMinio] = await Promise.all([freePort(), freePort(), freePort()]);
      let output = '';
      const child = spawn(shell!, shellArgs, {
        cwd: app,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'production',
          SERVICE: service,
          SERVER_HOST: '127.0.0.1',
          SERVER_PORT: String(port),
          TARANTOOL_ADDRESS: `127.0.0.1:${closedTarantool}`,
          TARANTOOL_PASSWORD: 'test-only',
          MINIO_ENDPOINT: `127.0.0.1:${closedMinio}`,
          MINIO_ACCESS_KEY_ID: 'test-only',
          MINIO_SECRET_ACCESS_KEY: 'test-only',
        },
      });
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      st.after(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      });

      assert.equal(await waitForStatus(`http://127.0.0.1:${port}/healthz`, child, () => output), 200);
      assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 503, 'not ready without Tarantool and MinIO');
      child.kill('SIGTERM');
      assert.equal(await exited, 0, `SIGTERM ends the process cleanly:\n${output}`);
    });
  }
});
