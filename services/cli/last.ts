import { globalUsage, parseCommand, positionals } from './args.js';
import { clientsFrom, type Command } from './command.js';
import { writeStdout } from './output.js';

/** `mts last`: the subject's last sequence, 0 when nothing was published. */
export const lastCommand: Command = {
  name: 'last',
  summary: "print a subject's last sequence (0 if none)",
  usage: `Usage: mts last <subject> [--json]

Prints the last sequence published on the subject, 0 for an unknown subject.
  --json                 print {"subject": "...", "lastSequence": "..."} instead

${globalUsage}`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, { json: { type: 'boolean' } });
    const [subject] = positionals(given, 'subject');
    const { lastSequence } = await clientsFrom(values).egress.getLastSequence({ subject });
    await writeStdout(values.json ? `${JSON.stringify({ subject, lastSequence: lastSequence.toString() })}\n` : `${lastSequence}\n`);
  },
};
