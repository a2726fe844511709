import { globalUsage, integerOption, parseCommand, positionals } from './args.js';
import { clientsFrom, type Command } from './command.js';
import { writeStdout } from './output.js';

/** `mts purge`: deletes a subject's messages, all or up to a sequence. */
export const purgeCommand: Command = {
  name: 'purge',
  summary: "delete a subject's messages, all or up to a sequence",
  usage: `Usage: mts purge <subject> [--through SEQ] [--json]

Deletes the subject's stored messages, all of them or those up to and including
SEQ, with their payload objects. Sequences are never reused: the next publish
continues after the last one. Needs a token with the admin permission when the
services require tokens.
  --through SEQ          delete up to and including this sequence
  --json                 print {"subject", "purged", "firstSequence"} instead

${globalUsage}

Example: mts purge demo.hello --through 100`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, { json: { type: 'boolean' }, through: { type: 'string' } });
    const [subject] = positionals(given, 'subject');
    const through = values.through === undefined ? {} : { throughSequence: BigInt(integerOption(values.through, 'through', 0, 0)) };
    const { purged, firstSequence } = await clientsFrom(values).egress.purge({ subject, ...through });
    await writeStdout(
      values.json
        ? `${JSON.stringify({ subject, purged: purged.toString(), firstSequence: firstSequence.toString() })}\n`
        : `purged ${purged} message(s) of ${subject}; first stored sequence now ${firstSequence}\n`,
    );
  },
};
