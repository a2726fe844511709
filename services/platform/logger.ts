import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

/** Paths never written to logs: credentials in config, headers and errors. */
const redactPaths = [
  'password',
  '*.password',
  'secretKey',
  '*.secretKey',
  'accessKey',
  '*.accessKey',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
];

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
