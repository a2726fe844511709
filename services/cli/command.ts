import { createClients, type Clients } from './clients.js';

/** One `mts` command: its help text and what it does with the rest of the command line. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full help: usage line, flags, examples. */
  usage: string;
  /** Fixed words the command takes as arguments, offered by shell completion. */
  words?: string[];
  /** Parses `args` (everything after the command name) and runs; throws to fail. */
  run(args: string[]): Promise<void>;
}

/** The parsed global flags. */
export interface GlobalValues {
  url?: string | undefined;
  ingress?: string | undefined;
  egress?: string | undefined;
  protocol: string;
  token?: string | undefined;
}

const env = (name: string): string | undefined => process.env[name]?.trim() || undefined;

/**
 * Where each service is: its own flag, then --url (both), then $MTS_INGRESS or
 * $MTS_EGRESS, then $MTS_URL, then the default port on loopback.
 */
export function serviceUrls(values: GlobalValues): { ingress: string; egress: string } {
  return {
    ingress: values.ingress ?? values.url ?? env('MTS_INGRESS') ?? env('MTS_URL') ?? 'http://127.0.0.1:50051',
    egress: values.egress ?? values.url ?? env('MTS_EGRESS') ?? env('MTS_URL') ?? 'http://127.0.0.1:50052',
  };
}

/** Clients from the parsed global flags; the token falls back to $MTS_TOKEN so it stays out of `ps`. */
export function clientsFrom(values: GlobalValues): Clients {
  return createClients({ ...serviceUrls(values), protocol: values.protocol, token: values.token ?? process.env.MTS_TOKEN });
}
