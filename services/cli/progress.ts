/** A live status line on stderr; see {@link startProgress}. */
export interface Progress {
  /** Erases the line (on a terminal) and stops updating it. */
  stop(): void;
}

/**
 * Redraws `render()` in place four times a second when stderr is a terminal;
 * with `forced` and no terminal (logs, CI) prints it as a line each second;
 * otherwise does nothing, so piped output stays clean.
 */
export function startProgress(render: () => string, forced: boolean): Progress {
  const tty = process.stderr.isTTY === true;
  if (!tty && !forced) return { stop() {} };
  const timer = setInterval(() => process.stderr.write(tty ? `\r\x1b[K${render()}` : `${render()}\n`), tty ? 250 : 1000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      if (tty) process.stderr.write('\r\x1b[K');
    },
  };
}
