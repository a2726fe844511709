import { globalUsage, integerOption, parseCommand, positionals } from './args.js';
import { clientsFrom, type Command } from './command.js';
import { writeStdout } from './output.js';

/** `mts redrive`: dead letters back to the subjects they came from. */
export const redriveCommand: Command = {
  name: 'redrive',
  summary: 'republish dead letters to the subjects they came from',
  usage: `Usage: mts redrive <dead-letter-subject> [--from SEQ] [--to SEQ] [--json]

Moves the messages of a dead-letter subject (a consumer's --dead-letter) back
to their original subjects as new messages, without the dead-letter headers,
and deletes them from the dead-letter subject. Payloads in the object store
are shared, not copied. Needs a token with the admin permission when the
services require tokens.
  --from SEQ             first dead letter to move (default: the first)
  --to SEQ               last dead letter to move (default: the last)
  --json                 {"redriven": "N"}

${globalUsage}

Example: mts redrive orders-dead --from 10 --to 20`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, {
      from: { type: 'string' },
      to: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [deadLetterSubject] = positionals(given, 'dead-letter-subject');
    const { redriven } = await clientsFrom(values).egress.redrive({
      deadLetterSubject: deadLetterSubject!,
      fromSequence: BigInt(integerOption(values.from, 'from', 0)),
      toSequence: BigInt(integerOption(values.to, 'to', 0)),
    });
    await writeStdout(
      values.json
        ? `${JSON.stringify({ redriven: redriven.toString() })}\n`
        : `redrove ${redriven} dead letters from ${deadLetterSubject}\n`,
    );
  },
};
