import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { SubjectInfo } from '../../gen/minitoolstream/egress_pb.js';
import { globalUsage, parseCommand, positionals } from './args.js';
import { clientsFrom, type Command } from './command.js';
import { writeStdout } from './output.js';
import { policyJson, policySummary } from './retention.js';
import { formatTable } from './table.js';

/** One subject as a JSON object: uint64 counters as strings, as in the protobuf JSON mapping. */
function subjectFields(info: SubjectInfo) {
  return {
    subject: info.subject,
    messages: info.messages.toString(),
    bytes: info.bytes.toString(),
    firstSequence: info.firstSequence.toString(),
    lastSequence: info.lastSequence.toString(),
    lastPublishTime: info.lastPublishTime ? timestampDate(info.lastPublishTime).toISOString() : null,
  };
}

const subjectJson = (info: SubjectInfo): string => `${JSON.stringify(subjectFields(info))}\n`;

function subjectRow(info: SubjectInfo): string[] {
  const time = info.lastPublishTime ? timestampDate(info.lastPublishTime).toISOString() : '-';
  return [info.subject, `${info.messages}`, `${info.bytes}`, `${info.firstSequence}`, `${info.lastSequence}`, time];
}

const header = ['SUBJECT', 'MESSAGES', 'BYTES', 'FIRST', 'LAST', 'LAST PUBLISH'];

/** `mts subjects`: every subject the caller may fetch, with counts and sequences. */
export const subjectsCommand: Command = {
  name: 'subjects',
  summary: 'list subjects with message count, bytes, first/last sequence',
  usage: `Usage: mts subjects [PATTERN] [--json]

Lists the subjects (those your token may fetch), one row each: messages stored,
payload bytes, first and last sequence, time of the last publish.
  PATTERN                "a.*" is a and every subject below it, "*" all, else one subject
  --json                 one JSON object per subject: subject, messages, bytes,
                         firstSequence, lastSequence, lastPublishTime

${globalUsage}

Example: mts subjects 'orders.*'`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, { json: { type: 'boolean' } });
    const [pattern = ''] = given.length === 0 ? [] : positionals(given, 'pattern');
    const { subjects } = await clientsFrom(values).egress.listSubjects({ pattern });
    if (values.json) await writeStdout(subjects.map(subjectJson).join(''));
    else if (subjects.length === 0) process.stderr.write(`mts: no subjects${pattern ? ` match "${pattern}"` : ''}\n`);
    else await writeStdout(formatTable(header, subjects.map(subjectRow)));
  },
};

/** `mts info`: one subject's counts and sequences. */
export const infoCommand: Command = {
  name: 'info',
  summary: "show one subject's message count, bytes, first/last sequence",
  usage: `Usage: mts info <subject> [--json]

Shows one subject as "mts subjects" lists it (first: the first retained
sequence) and the retention policy in force; not_found when nothing was
published on it.
  --json                 one JSON object: the fields of mts subjects --json and
                         retention (the fields of mts retention ls --json, or null)

${globalUsage}`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, { json: { type: 'boolean' } });
    const [subject] = positionals(given, 'subject');
    const info = await clientsFrom(values).egress.getSubjectInfo({ subject });
    const { retention } = info;
    if (values.json) {
      await writeStdout(`${JSON.stringify({ ...subjectFields(info), retention: retention ? policyJson(retention) : null })}\n`);
    } else {
      const row = subjectRow(info);
      const lines = header.map((title, index) => `${`${title.toLowerCase()}:`.padEnd(14)}${row[index]}`);
      lines.push(`${'retention:'.padEnd(14)}${retention ? `${retention.pattern}: ${policySummary(retention)}` : 'none'}`);
      await writeStdout(`${lines.join('\n')}\n`);
    }
  },
};
