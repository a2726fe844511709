import { createClients, type Clients } from './clients.js';

/** One `mts` command: its help text and what it does with the rest of the command line. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full help: usage line, flags, examples. */
  usage: string;
  /** Parses `args` (everything after the command name) and runs; throws to fail. */
  run(args: string[]): Promise<void>;
}

/** Clients from the parsed global flags; the token falls back to $MTS_TOKEN so it stays out of `ps`. */
export function clientsFrom(values: { ingress: string; egress: string; protocol: string; token?: string | undefined }): Clients {
  return createClients({ ...values, token: values.token ?? process.env.MTS_TOKEN });
}
