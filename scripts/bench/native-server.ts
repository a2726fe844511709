import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../services/testing/free-port.js';

/** A broker process on a loopback port over its own temporary folder; see {@link startNativeServer}. */
export interface NativeServer {
  port: number;
  dir: string;
  /** SIGTERM (SIGKILL after 5 s), then the folder is removed. */
  stop(): Promise<void>;
}

const readyTimeoutMs = 15_000;

/**
 * Starts `command` with `args(port, dir)` on a free loopback port and a fresh
 * temporary folder, and resolves once the port accepts connections. Its
 * output is kept and shown only if it exits early.
 */
export async function startNativeServer(
  name: string,
  command: string,
  args: (port: number, dir: string) => string[],
): Promise<NativeServer> {
  const dir = mkdtempSync(path.join(tmpdir(), `mts-compare-${name}-`));
  const port = await freePort();
  const child = spawn(command, args(port, dir), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async (): Promise<void> => {
    await terminate(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = performance.now() + readyTimeoutMs;
    while (!(await accepts(port))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited before it was ready:\n${output}`);
      if (performance.now() > deadline) throw new Error(`${name} did not accept connections on port ${port} in time:\n${output}`);
      await sleep(50);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, dir, stop };
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(killer);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
