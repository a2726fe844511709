import { codeToString } from '@connectrpc/connect/protocol-connect';
import type { Clients } from './clients.js';
import { writeStdout } from './output.js';
import { publishLines } from './publish-lines.js';
import { lines } from './stdin-lines.js';

export interface LineModeOptions {
  ingress: Clients['ingress'];
  subject: string;
  headers: Record<string, string>;
  batch: number;
  inFlight: number;
  /** One summary line at the end instead of a sequence per line. */
  summary: boolean;
  json: boolean;
}

/**
 * `mts publish --batch N`: every stdin line one message. Prints each line's
 * sequence (or one JSON object per line) in line order; a rejected batch is
 * named on stderr by its lines (and as error objects with --json), and makes
 * the command fail once everything else is published.
 */
export async function publishStdinLines(options: LineModeOptions): Promise<void> {
  const { json, summary: summaryOnly } = options;
  const result = await publishLines({
    ...options,
    lines: lines(process.stdin),
    async onPublished(firstLine, results) {
      if (summaryOnly) return;
      const text = results.map((result, index) =>
        json ? `${JSON.stringify({ line: firstLine + index, sequence: result.sequence.toString() })}\n` : `${result.sequence}\n`,
      );
      await writeStdout(text.join(''));
    },
    async onRejected(firstLine, count, error) {
      const lastLine = firstLine + count - 1;
      const code = codeToString(error.code);
      process.stderr.write(
        `mts: line${count > 1 ? `s ${firstLine}-${lastLine}` : ` ${firstLine}`} not published: ${code}: ${error.rawMessage}\n`,
      );
      if (json && !summaryOnly) {
        const objects = Array.from(
          { length: count },
          (_, index) => `${JSON.stringify({ line: firstLine + index, error: { code, message: error.rawMessage } })}\n`,
        );
        await writeStdout(objects.join(''));
      }
    },
  });
  if (summaryOnly) {
    await writeStdout(
      json
        ? `${JSON.stringify(result)}\n`
        : `published ${result.published} of ${result.lines} lines in ${result.batches} batches${result.rejected > 0 ? `, ${result.rejected} rejected` : ''}\n`,
    );
  }
  if (result.rejected > 0) throw new Error(`${result.rejected} of ${result.lines} lines were not published`);
}
