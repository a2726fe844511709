import { execFileSync, spawnSync } from 'node:child_process';

/** A program the comparison runs, and the Debian package that installs it. */
export interface NativeProgram {
  binary: string;
  debianPackage: string;
}

const found = (binary: string): boolean => spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;

/**
 * Makes sure every program is on the PATH: as root, installs the missing
 * Debian packages with apt-get (after refreshing its lists); otherwise throws
 * naming them and the command that installs them.
 */
export function ensurePrograms(programs: NativeProgram[]): void {
  const missing = programs.filter((program) => !found(program.binary));
  if (missing.length === 0) return;
  const packages = missing.map((program) => program.debianPackage);
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${missing.map((program) => program.binary).join(', ')} not found; install with: sudo apt-get install -y ${packages.join(' ')}`,
    );
  }
  process.stderr.write(`> apt-get update && apt-get install -y ${packages.join(' ')}\n`);
  execFileSync('apt-get', ['update'], { stdio: ['ignore', 'inherit', 'inherit'] });
  execFileSync('apt-get', ['install', '-y', ...packages], { stdio: ['ignore', 'inherit', 'inherit'] });
  const still = missing.filter((program) => !found(program.binary));
  if (still.length > 0) throw new Error(`${still.map((program) => program.binary).join(', ')} still not found after apt-get install`);
}
