import { globalUsage, integerOption, parseCommand, positionals, UsageError } from './args.js';
import { clientsFrom, type Command } from './command.js';
import { writeStdout } from './output.js';

/** `mts purge`: deletes a subject's messages, all or up to a sequence, or those of a pattern's subjects. */
export const purgeCommand: Command = {
  name: 'purge',
  summary: "delete a subject's messages, all or up to a sequence, or every subject a pattern matches",
  usage: `Usage: mts purge <subject> [--through SEQ] [--json]
       mts purge <pattern> [--json]

Deletes the subject's stored messages, all of them or those up to and including
SEQ, with their payload objects. A pattern ("*" one token, a final ">" the
rest) deletes every message of each subject it matches (only the subjects the
token allows). Sequences are never reused: the next publish continues after
the last one. Needs a token with the admin permission when the services
require tokens.
  --through SEQ          delete up to and including this sequence (a subject only)
  --json                 print {"subject", "purged", "firstSequence"}, or
                         {"pattern", "purged", "subjects"} for a pattern

${globalUsage}

Examples: mts purge demo.hello --through 100
          mts purge 'orders.>'`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, { json: { type: 'boolean' }, through: { type: 'string' } });
    const [target] = positionals(given, 'subject');
    const { egress } = clientsFrom(values);
    if (/[*>]/.test(target)) {
      if (values.through !== undefined) throw new UsageError('--through needs a subject, not a pattern');
      const { purged, subjects } = await egress.purge({ pattern: target });
      await writeStdout(
        values.json
          ? `${JSON.stringify({ pattern: target, purged: purged.toString(), subjects: subjects.toString() })}\n`
          : `purged ${purged} message(s) of ${subjects} subject(s) matching ${target}\n`,
      );
      return;
    }
    const through = values.through === undefined ? {} : { throughSequence: BigInt(integerOption(values.through, 'through', 0, 0)) };
    const { purged, firstSequence } = await egress.purge({ subject: target, ...through });
    await writeStdout(
      values.json
        ? `${JSON.stringify({ subject: target, purged: purged.toString(), firstSequence: firstSequence.toString() })}\n`
        : `purged ${purged} message(s) of ${target}; first stored sequence now ${firstSequence}\n`,
    );
  },
};
