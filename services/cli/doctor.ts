import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';
import { packageVersion } from '../platform/version.js';
import { globalUsage, parseCommand, positionals } from './args.js';
import { serviceUrls, type Command } from './command.js';
import { writeStdout } from './output.js';

type ServiceName = 'ingress' | 'egress';

interface Finding {
  ok: boolean;
  text: string;
}

interface Alive {
  version?: string;
  node?: string;
  auth?: string;
}

interface ReadyReport {
  ready?: boolean;
  state?: string;
  dependencies?: { name: string; ok: boolean; detail: string }[];
}

const typeNames: Record<ServiceName, string> = { ingress: IngressService.typeName, egress: EgressService.typeName };
const timeoutMs = 3000;

/** `mts doctor`: what a person checks first, in words. */
export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check both services: reachable, right service, ready, auth, versions',
  usage: `Usage: mts doctor

Checks the ingress and egress URLs (see the global flags): that each answers,
serves the RPCs it should, is ready (with each storage dependency), whether it
requires a token and whether yours is accepted, and the versions. Prints what is
wrong in words; exit status 1 when something is.

${globalUsage}`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, {});
    positionals(given);
    const urls = serviceUrls(values);
    const token = values.token ?? process.env.MTS_TOKEN;
    let problems = 0;
    for (const name of ['ingress', 'egress'] as const) {
      const findings = await checkService(name, urls[name], token);
      problems += findings.filter((finding) => !finding.ok).length;
      await writeStdout(
        `${name.padEnd(8)} ${urls[name]}\n${findings.map((f) => `  ${f.ok ? 'ok     ' : 'PROBLEM'}  ${f.text}\n`).join('')}`,
      );
    }
    await writeStdout(`mts ${packageVersion} on Node.js ${process.version}\n`);
    if (problems > 0) throw new Error(`${problems} problem${problems === 1 ? '' : 's'} found (see above)`);
    await writeStdout('Everything answers as it should.\n');
  },
};

async function checkService(name: ServiceName, url: string, token: string | undefined): Promise<Finding[]> {
  const flag = `--${name} URL, --url URL or MTS_${name.toUpperCase()} / MTS_URL`;
  let alive: Alive;
  try {
    alive = (await (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) })).json()) as Alive;
  } catch (error) {
    return [{ ok: false, text: `cannot reach it (${reason(error)}): is the service running? Point mts elsewhere with ${flag}` }];
  }
  if (alive.version === undefined) {
    return [
      { ok: false, text: 'something answers /healthz, but not a MiniToolStream service of this version (another program on this port?)' },
    ];
  }
  const versionNote = alive.version === packageVersion ? '' : ` (mts is ${packageVersion})`;
  return [
    { ok: true, text: `MiniToolStream ${alive.version}${versionNote} on Node.js ${alive.node}` },
    await servesRpcs(name, url, flag),
    await readiness(url),
    await authentication(name, url, alive.auth, token),
  ];
}

async function servesRpcs(name: ServiceName, url: string, flag: string): Promise<Finding> {
  const serves = async (service: ServiceName) => {
    const answer = await connectCall(url, 'grpc.health.v1.Health/Check', { service: typeNames[service] });
    return answer.httpStatus === 200;
  };
  if (await serves(name)) return { ok: true, text: `serves the ${name} RPCs` };
  const other: ServiceName = name === 'ingress' ? 'egress' : 'ingress';
  const actually = (await serves(other)) ? `this is the ${other} service; ` : '';
  return { ok: false, text: `does not serve the ${name} RPCs: ${actually}give the ${name} service with ${flag}` };
}

async function readiness(url: string): Promise<Finding> {
  try {
    const report = (await (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(timeoutMs) })).json()) as ReadyReport;
    const dependencies = (report.dependencies ?? []).map((dependency) => `${dependency.name} ${dependency.ok ? 'ok' : dependency.detail}`);
    const detail = dependencies.length > 0 ? `: ${dependencies.join(', ')}` : '';
    return report.ready
      ? { ok: true, text: `ready${detail}` }
      : { ok: false, text: `not ready (${report.state ?? 'unknown state'})${detail}` };
  } catch (error) {
    return { ok: false, text: `no readiness report (${reason(error)})` };
  }
}

async function authentication(name: ServiceName, url: string, mode: string | undefined, token: string | undefined): Promise<Finding> {
  if (mode === 'disabled') return { ok: true, text: 'no authentication (AUTH_MODE=disabled): anyone who reaches the port may call it' };
  if (token === undefined) {
    return mode === 'required'
      ? { ok: false, text: 'requires a token (AUTH_MODE=required): set MTS_TOKEN or give --token' }
      : { ok: true, text: `tokens are optional (AUTH_MODE=${mode}); without one calls are anonymous` };
  }
  // A call every token may make reveals whether this one is accepted; its answer is not needed.
  const path = name === 'ingress' ? 'minitoolstream.IngressService/Publish' : 'minitoolstream.EgressService/ListSubjects';
  const body = name === 'ingress' ? { subject: '' } : {};
  const answer = await connectCall(url, path, body, token);
  if (answer.code === 'unauthenticated') return { ok: false, text: `your token is refused: ${answer.message}` };
  return { ok: true, text: `your token is accepted (AUTH_MODE=${mode})` };
}

/** One Connect unary call as JSON over HTTP/1.1: its HTTP status and, for an error, its code and message. */
async function connectCall(
  url: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<{ httpStatus: number; code?: string | undefined; message?: string | undefined }> {
  try {
    const response = await fetch(`${url}/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const answer = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
    return { httpStatus: response.status, code: answer.code, message: answer.message };
  } catch (error) {
    return { httpStatus: 0, code: 'unavailable', message: reason(error) };
  }
}

function reason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
