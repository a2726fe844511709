import type { RetentionPolicy } from '../../gen/minitoolstream/egress_pb.js';
import { formatDuration, parseDuration, parseSize } from '../platform/units.js';
import { globalUsage, integerOption, parseCommand, positionals, UsageError } from './args.js';
import { clientsFrom, type Command } from './command.js';
import { writeStdout } from './output.js';
import { formatTable } from './table.js';

/** A policy as `mts retention ls|get --json` and `mts info --json` print it; 0 limits are unlimited. */
export function policyJson(policy: RetentionPolicy) {
  return {
    pattern: policy.pattern,
    maxAgeMs: policy.maxAgeMs.toString(),
    maxMessages: policy.maxMessages.toString(),
    maxBytes: policy.maxBytes.toString(),
    maxMessageBytes: policy.maxMessageBytes.toString(),
    discard: policy.discard || 'old',
    retention: policy.retention || 'limits',
  };
}

/** The limits in words: `max-age 7d, max-messages 1000, discard old`, or `unlimited`. */
export function policySummary(policy: RetentionPolicy): string {
  const limits = [
    policy.maxAgeMs > 0n ? `max-age ${formatDuration(Number(policy.maxAgeMs))}` : '',
    policy.maxMessages > 0n ? `max-messages ${policy.maxMessages}` : '',
    policy.maxBytes > 0n ? `max-bytes ${policy.maxBytes}` : '',
    policy.maxMessageBytes > 0n ? `max-message-bytes ${policy.maxMessageBytes}` : '',
  ].filter((limit) => limit !== '');
  const interest = policy.retention === 'interest' ? ['interest'] : [];
  if (limits.length === 0) return interest[0] ?? 'unlimited';
  return [...limits, `discard ${policy.discard || 'old'}`, ...interest].join(', ');
}

const header = ['PATTERN', 'MAX AGE', 'MAX MESSAGES', 'MAX BYTES', 'MAX MESSAGE BYTES', 'DISCARD', 'RETENTION'];
const unlimitedOr = (value: bigint, shown: string = `${value}`) => (value === 0n ? '-' : shown);
const row = (policy: RetentionPolicy): string[] => [
  policy.pattern,
  unlimitedOr(policy.maxAgeMs, formatDuration(Number(policy.maxAgeMs))),
  unlimitedOr(policy.maxMessages),
  unlimitedOr(policy.maxBytes),
  unlimitedOr(policy.maxMessageBytes),
  policy.discard || 'old',
  policy.retention || 'limits',
];

function withUnit(value: string | undefined, flag: string, parse: (text: string) => number | undefined, example: string): bigint {
  if (value === undefined) return 0n;
  const parsed = parse(value);
  if (parsed === undefined) throw new UsageError(`--${flag} "${value}" is not ${example}`);
  return BigInt(parsed);
}

/** `mts retention set|get|ls|rm`: retention policies by subject pattern. */
export const retentionCommand: Command = {
  name: 'retention',
  summary: 'set, show (get), list (ls) or remove (rm) retention policies by subject pattern',
  words: ['set', 'get', 'ls', 'rm'],
  usage: `Usage: mts retention set <pattern> [--max-age 7d] [--max-messages N] [--max-bytes 10GiB]
                     [--max-message-bytes SIZE] [--discard old|new] [--retention limits|interest]
       mts retention get <subject> [--json]
       mts retention ls [--json]
       mts retention rm <pattern>

A policy limits the subjects its pattern matches ("*" one token, a final ">"
the rest; the most specific pattern wins, and a pattern that ties with another
is refused). Unset limits are unlimited. With --discard old (the default) a
subject over max-messages or max-bytes drops its oldest messages; with
--discard new publishes are refused (resource_exhausted) until room is made.
The pattern ">" is the default policy, from the services' RETENTION_* variables.
"get" shows the policy in force for a subject and the pattern it comes from
(needs fetch on the subject); the other actions need a token with the admin
permission when the services require tokens.
  --max-age AGE          delete messages older than AGE: 30m, 12h, 7d
  --max-messages N       keep at most N messages per subject
  --max-bytes SIZE       keep at most SIZE payload bytes per subject: 512MiB, 10GiB
  --max-message-bytes SIZE  refuse larger messages
  --discard old|new      what a full subject does (default old)
  --retention limits|interest  interest also deletes what every durable consumer
                         of the subject acknowledged (once it has one)
  --json                 get, ls: one JSON object per policy

${globalUsage}

Example: mts retention set 'orders.>' --max-age 7d --max-bytes 10GiB`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, {
      json: { type: 'boolean' },
      'max-age': { type: 'string' },
      'max-messages': { type: 'string' },
      'max-bytes': { type: 'string' },
      'max-message-bytes': { type: 'string' },
      discard: { type: 'string' },
      retention: { type: 'string' },
    });
    const { egress } = clientsFrom(values);
    const action = given[0];
    if (action === 'ls') {
      positionals(given, 'ls');
      const { policies } = await egress.listRetentionPolicies({});
      await writeStdout(
        values.json ? policies.map((policy) => `${JSON.stringify(policyJson(policy))}\n`).join('') : formatTable(header, policies.map(row)),
      );
    } else if (action === 'get') {
      const [, subject] = positionals(given, 'get', 'subject');
      const policy = await egress.getRetentionPolicy({ subject });
      await writeStdout(
        values.json
          ? `${JSON.stringify({ subject, ...policyJson(policy) })}\n`
          : `${subject}: ${policySummary(policy)} (retention policy "${policy.pattern}")\n`,
      );
    } else if (action === 'rm') {
      const [, pattern] = positionals(given, 'rm', 'pattern');
      await egress.deleteRetentionPolicy({ pattern });
      await writeStdout(`removed the retention policy of ${pattern}\n`);
    } else if (action === 'set') {
      const [, pattern] = positionals(given, 'set', 'pattern');
      const discard = values.discard ?? 'old';
      if (discard !== 'old' && discard !== 'new') throw new UsageError(`--discard "${discard}" is not old or new`);
      const retention = values.retention ?? 'limits';
      if (retention !== 'limits' && retention !== 'interest') throw new UsageError(`--retention "${retention}" is not limits or interest`);
      const stored = await egress.setRetentionPolicy({
        pattern,
        maxAgeMs: withUnit(values['max-age'], 'max-age', parseDuration, 'a duration like 30m, 12h or 7d'),
        maxMessages: BigInt(integerOption(values['max-messages'], 'max-messages', 0, 0)),
        maxBytes: withUnit(values['max-bytes'], 'max-bytes', parseSize, 'a size like 512MiB or 10GiB'),
        maxMessageBytes: withUnit(values['max-message-bytes'], 'max-message-bytes', parseSize, 'a size like 1MiB'),
        discard,
        retention,
      });
      await writeStdout(`${stored.pattern}: ${policySummary(stored)}\n`);
    } else {
      throw new UsageError(action === undefined ? 'missing <set|get|ls|rm>' : `unknown action "${action}": use set, get, ls or rm`);
    }
  },
};
