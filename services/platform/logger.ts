import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

/**
 * Keys never written to logs: credentials in config, headers and errors. Each
 * is redacted up to two levels below the logged object, so `{ config }` (whose
 * secrets sit at `config.tarantool.password`) is covered as well as a flat config.
 */
const secretKeys = ['password', 'secretKey', 'accessKey', 'token', 'authorization'];
const redactPaths = secretKeys.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

/**
 * The root logger. JSON lines on stdout by default (fast, for collectors);
 * `LOG_FORMAT=text` renders through pino-pretty for people.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  if (destination) return pino(options, destination);
  if (config.logFormat === 'text') {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY } } });
  }
  return pino(options);
}

export type { Logger };
