import { Writable } from 'node:stream';
import { pino, type Level, type Logger } from 'pino';

/** A logger at `level` whose JSON lines are kept in `lines`, for tests that check the log. */
export function capturedLogger(level: Level): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}
