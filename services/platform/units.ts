/** Durations and sizes as people write them in variables and flags. */

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const sizeUnits: Record<string, number> = {
  '': 1,
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
};

/** `30m`, `12h`, `7d` (also `ms`, `s`) in milliseconds; undefined when not such a duration. */
export function parseDuration(text: string): number | undefined {
  return scaled(text, durationUnits);
}

/** `512MiB`, `10GiB`, `1GB` or plain bytes; undefined when not such a size. */
export function parseSize(text: string): number | undefined {
  return scaled(text, sizeUnits);
}

/** Milliseconds in the largest unit that divides them evenly: `7d`, `90m`, `1500ms`. */
export function formatDuration(ms: number): string {
  const [unit, size] = Object.entries(durationUnits)
    .reverse()
    .find(([, size]) => ms % size === 0)!;
  return `${ms / size}${unit}`;
}

function scaled(text: string, units: Record<string, number>): number | undefined {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match && units[match[2]!.toLowerCase()];
  const result = unit ? Number(match[1]) * unit : NaN;
  return Number.isSafeInteger(result) ? result : undefined;
}
