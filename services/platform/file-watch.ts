import fs from 'node:fs';

/**
 * Calls `onChange` when any of `paths` changes (inode, size or mtime). Polls
 * rather than using fs.watch, which misses the symlink swap Kubernetes uses to
 * update a mounted secret. Returns a function that stops watching; the timer
 * never keeps the process alive.
 */
export function watchFiles(paths: readonly string[], intervalMs: number, onChange: () => void): () => void {
  let last = signature(paths);
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    void Promise.all(paths.map(statLine))
      .then((lines) => {
        const now = lines.join('|');
        if (now === last) return;
        last = now;
        onChange();
      })
      .finally(() => {
        checking = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function signature(paths: readonly string[]): string {
  return paths.map((path) => line(statOrUndefined(() => fs.statSync(path)))).join('|');
}

async function statLine(path: string): Promise<string> {
  return line(await fs.promises.stat(path).catch(() => undefined));
}

function statOrUndefined(stat: () => fs.Stats): fs.Stats | undefined {
  try {
    return stat();
  } catch {
    return undefined;
  }
}

function line(stats: fs.Stats | undefined): string {
  return stats ? `${stats.ino}:${stats.size}:${stats.mtimeMs}` : 'missing';
}
