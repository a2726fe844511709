import { execFileSync } from 'node:child_process';

/** Where a service tried to listen and the variable a person changes to move it. */
export interface ListenTarget {
  service: string;
  host: string;
  port: number;
  portVariable: string;
}

/**
 * One line for a port that cannot be bound (`EADDRINUSE`, `EACCES`,
 * `EADDRNOTAVAIL`), naming the port, the variable that moves it and, when
 * the system tells, the process holding it; undefined for any other error.
 */
export function describeListenFailure(error: unknown, target: ListenTarget): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const where = `${target.service} port ${target.port} on ${target.host}`;
  if (code === 'EADDRINUSE') {
    const holder = portHolder(target.port);
    return `${where} is already in use${holder ? ` by ${holder}` : ''}; set ${target.portVariable} to another port`;
  }
  if (code === 'EACCES') return `${where} needs privileges this process lacks; set ${target.portVariable} to a port above 1023`;
  if (code === 'EADDRNOTAVAIL') return `${where}: ${target.host} is not an address of this machine; check SERVER_HOST`;
  return undefined;
}

/** `name (pid N)` of the process listening on `port`, as `ss` reports it for processes this user may see. */
function portHolder(port: number): string | undefined {
  try {
    const listing = execFileSync('ss', ['-Hltnp', `sport = :${port}`], {
      encoding: 'utf8',
      timeout: 2000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const match = /users:\(\("([^"]+)",pid=(\d+)/.exec(listing);
    return match ? `${match[1]} (pid ${match[2]})` : undefined;
  } catch {
    // No ss (not Linux, or a minimal image): the line simply names no holder.
    return undefined;
  }
}
