import path from 'node:path';
import type { MainStarted } from '../platform/run-main.js';

const defaultUrls: Record<string, string> = { ingress: 'http://127.0.0.1:50051', egress: 'http://127.0.0.1:50052' };

/**
 * The lines a person sees on start-up (stderr; the logs go to stdout): where
 * each service listens, the backend and data folder, the dashboard, and commands to try,
 * naming --url only when a port is not the default (every port serves both services).
 */
export function formatBanner({ config, services }: MainStarted): string {
  const storage =
    config.storage === 'embedded'
      ? `embedded: SQLite + payload folder in ${path.resolve(config.dataDir)} (kept across restarts)`
      : `Tarantool ${config.tarantool.host}:${config.tarantool.port} + object store ${config.minio.host}:${config.minio.port}`;
  const local = services.map((service) => ({ ...service, url: service.url.replace('//0.0.0.0:', '//127.0.0.1:') }));
  const egress = local.find((service) => service.name === 'egress');
  const urlFlag = local.every((service) => service.url === defaultUrls[service.name]) ? '' : ` --url ${local[0]!.url}`;
  return [
    '',
    'MiniToolStream is running',
    ...services.map((service) => `  ${service.name.padEnd(8)} ${service.url}`),
    `  storage  ${storage}`,
    ...(egress ? [`Dashboard: ${egress.url}/ui/`] : []),
    'Try it (either URL serves every command; MTS_URL saves typing --url):',
    `  npx mts publish demo.hello --data hi${urlFlag}`,
    `  npx mts subscribe demo.hello --durable me${urlFlag}`,
    'Stop with Ctrl-C.',
    '',
    '',
  ].join('\n');
}
