import path from 'node:path';
import type { MainStarted } from '../platform/run-main.js';

const defaultUrls: Record<string, string> = { ingress: 'http://127.0.0.1:50051', egress: 'http://127.0.0.1:50052' };

/**
 * The lines a person sees on start-up (stderr; the JSON logs on stdout stay
 * JSON): where each service listens, the backend and data folder, and a
 * command to try, naming --ingress/--egress only when they are not the defaults.
 */
export function formatBanner({ config, services }: MainStarted): string {
  const storage =
    config.storage === 'embedded'
      ? `embedded: SQLite + payload folder in ${path.resolve(config.dataDir)} (kept across restarts)`
      : `Tarantool ${config.tarantool.host}:${config.tarantool.port} + object store ${config.minio.host}:${config.minio.port}`;
  const urlFlag = (name: string): string => {
    const url = services.find((service) => service.name === name)?.url.replace('//0.0.0.0:', '//127.0.0.1:');
    return url === undefined || url === defaultUrls[name] ? '' : ` --${name} ${url}`;
  };
  return [
    '',
    'MiniToolStream is running',
    ...services.map((service) => `  ${service.name.padEnd(8)} ${service.url}`),
    `  storage  ${storage}`,
    'Try it:',
    `  npx mts publish demo.hello --data hi${urlFlag('ingress')}`,
    `  npx mts subscribe demo.hello --durable me${urlFlag('egress')}`,
    'Stop with Ctrl-C.',
    '',
    '',
  ].join('\n');
}
