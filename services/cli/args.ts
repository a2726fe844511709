import { parseArgs, type ParseArgsConfig } from 'node:util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** A mistake in the command line: printed with the command's usage, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Flags every command takes: where the services are and how to reach them. */
export const globalOptions = {
  url: { type: 'string' },
  ingress: { type: 'string' },
  egress: { type: 'string' },
  token: { type: 'string' },
  protocol: { type: 'string', default: 'grpc' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionsConfig;

export const globalUsage = `Global flags (before or after the command):
  --url URL              both services at one URL, as npm start serves them (default: $MTS_URL)
  --ingress URL          ingress service (default: $MTS_INGRESS, $MTS_URL, http://127.0.0.1:50051)
  --egress URL           egress service (default: $MTS_EGRESS, $MTS_URL, http://127.0.0.1:50052)
  --token TOKEN          sent as "authorization: Bearer TOKEN" (default: $MTS_TOKEN)
  --protocol grpc|connect  wire protocol (default grpc, over cleartext HTTP/2)
  -h, --help             this help`;

/** Global flags that take a value, as they may be written before the command. */
const valuedGlobalFlags = new Set(
  Object.entries(globalOptions)
    .filter(([, option]) => option.type === 'string')
    .map(([name]) => `--${name}`),
);

/**
 * Splits `mts [global flags] <command> [args]` as git and kubectl do: the
 * global flags before the command are moved after it, where the command's
 * own parser reads them with its flags. Anything else before the command is
 * left in place, so it is reported as the unknown command it is.
 */
export function splitCommandLine(argv: string[]): { name: string | undefined; args: string[] } {
  const leading: string[] = [];
  let index = 0;
  while (index < argv.length) {
    const flag = argv[index]!.split('=')[0]!;
    if (!valuedGlobalFlags.has(flag)) break;
    const takesNext = !argv[index]!.includes('=');
    leading.push(...argv.slice(index, index + (takesNext ? 2 : 1)));
    index += takesNext ? 2 : 1;
  }
  return { name: argv[index], args: [...argv.slice(index + 1), ...leading] };
}

/** Parses one command's flags together with the global ones; unknown flags are usage errors. */
export function parseCommand<T extends OptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({ args, options: { ...globalOptions, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.split(/\n|\. To specify/)[0]! : String(error));
  }
}

/** Exactly `names.length` positional arguments, named in the error when missing. */
export function positionals(given: string[], ...names: string[]): string[] {
  if (given.length < names.length) throw new UsageError(`missing <${names[given.length]}>`);
  if (given.length > names.length) throw new UsageError(`unexpected argument "${given[names.length]}"`);
  return given;
}

/** A whole number from `min` up; `flag` names it in the error. */
export function integerOption(value: string | undefined, flag: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${flag} "${value}" is not a whole number of at least ${min}`);
  }
  return Number(value);
}

/** A comma-separated list of whole numbers: `1,8,32`. */
export function integerListOption(value: string, flag: string): number[] {
  return value.split(',').map((item) => integerOption(item.trim(), flag, 0));
}

const sizeUnits: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2 };

/** A byte count: `1024`, `1KiB`, `4MiB`, `1k`, `4m`. */
export function sizeOption(value: string, flag: string): number {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(value.trim());
  const unit = match ? sizeUnits[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) throw new UsageError(`--${flag} "${value}" is not a size such as 1024, 64KiB or 4MiB`);
  return Number(match[1]) * unit;
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** A duration in milliseconds: `500ms`, `10s`, `1m`; a bare number is seconds. */
export function durationOption(value: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(value.trim());
  if (!match || Number(match[1]) <= 0) throw new UsageError(`--${flag} "${value}" is not a duration such as 500ms, 10s or 1m`);
  return Number(match[1]) * durationUnits[match[2] ?? 's']!;
}
