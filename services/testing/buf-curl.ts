import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface BufCurlResult {
  /** 0 on success; buf's exit code otherwise (for an RPC error, derived from the gRPC code). */
  code: number;
  stdout: string;
  stderr: string;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `npx buf curl ARGS`: an independent client implementation (Go), so a test
 * through it proves the wire protocol, not just agreement with our own stack.
 * Uses server reflection unless ARGS pass a schema.
 */
export function bufCurl(args: string[]): Promise<BufCurlResult> {
  return new Promise((resolve) => {
    execFile('npx', ['buf', 'curl', '--timeout', '20s', ...args], { cwd: root, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}
