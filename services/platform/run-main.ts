import type { Logger } from 'pino';
import { openStore } from '../store/open-store.js';
import type { MessageStore } from '../store/store.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { describeListenFailure } from './listen-failure.js';
import { createLogger } from './logger.js';
import { payloadBudgetOf, startService, type RunningService, type ServiceDefinition } from './start-service.js';

type Env = Record<string, string | undefined>;

/** What {@link runMain} started: the first service's configuration (storage is shared) and each service. */
export interface MainStarted {
  config: Readonly<Config>;
  services: RunningService[];
}

export interface MainOptions {
  /** Every port serves every service's RPCs (one process, `npm start`), so any one URL reaches them all. */
  everyPortServesAll?: boolean;
}

/**
 * A process entry point: reads the configuration of each service, opens one
 * shared store, starts the services and shuts them down gracefully on SIGTERM
 * or SIGINT (not ready, streams ended, in-flight calls finished, exit 0).
 * A bad configuration exits 2 with one line naming the variable; a port that
 * cannot be bound exits 1 with one line naming the port and its variable
 * (SERVER_PORT for a lone service, INGRESS_PORT/EGRESS_PORT for several). Resolves
 * once every service listens, so an entry point can tell people where.
 */
export async function runMain(definitions: ServiceDefinition[], env: Env = process.env, options: MainOptions = {}): Promise<MainStarted> {
  const portVariable = (definition: ServiceDefinition): string =>
    definitions.length === 1 ? 'SERVER_PORT' : `${definition.name.toUpperCase()}_PORT`;
  let configs: Readonly<Config>[];
  try {
    configs = definitions.map((definition) => loadConfig(definition.name, env, portVariable(definition)));
  } catch (error) {
    exitOnConfigError(error);
  }
  const config = configs[0]!;
  const logger = createLogger(config);
  // One bound per process, shared by its services and its store.
  const payloadBudget = payloadBudgetOf(config);
  const store = await openStore(config, logger, payloadBudget);
  const running: RunningService[] = [];
  try {
    for (const [index, definition] of definitions.entries()) {
      const served = options.everyPortServesAll ? servingAll(definition, definitions) : definition;
      const serviceConfig = configs[index]!;
      try {
        running.push(await startService(served, { config: serviceConfig, logger, store, payloadBudget }));
      } catch (error) {
        const target = {
          service: definition.name,
          host: serviceConfig.host,
          port: serviceConfig.port,
          portVariable: portVariable(definition),
        };
        exitOnListenFailure(describeListenFailure(error, target), error);
      }
    }
  } catch (error) {
    // A file named by the configuration (a key, a certificate) can only be judged once read.
    exitOnConfigError(error);
  }
  for (const service of running) {
    logger.info(
      {
        service: service.name,
        url: service.url,
        storage: config.storage,
        maxMessageBytes: config.maxMessageBytes,
        ...(config.storage === 'embedded' ? { dataDir: config.dataDir } : {}),
      },
      `${service.name} listening`,
    );
  }
  installShutdown(running, store, logger);
  return { config, services: running };
}

function exitOnConfigError(error: unknown): never {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`minitoolstream: invalid configuration: ${error.message}\n`);
  process.exit(2);
}

/** A port that cannot be bound is the common first mistake: one line, no stack, exit 1. */
function exitOnListenFailure(line: string | undefined, error: unknown): void {
  if (line === undefined) throw error;
  process.stderr.write(`minitoolstream: ${line}\n`);
  process.exit(1);
}

/** `definition` under its own name and port, also serving the RPCs of every other service. */
function servingAll(definition: ServiceDefinition, all: ServiceDefinition[]): ServiceDefinition {
  return {
    name: definition.name,
    services: all.flatMap((each) => each.services),
    routes: (deps) => {
      const routes = all.map((each) => each.routes(deps));
      return (router) => routes.forEach((register) => register(router));
    },
    http: (deps) => {
      const routes = all.flatMap((each) => (each.http ? [each.http(deps)] : []));
      return (app) => routes.forEach((register) => register(app));
    },
  };
}

function installShutdown(running: RunningService[], store: MessageStore, logger: Logger): void {
  let shuttingDown = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    shuttingDown = true;
    logger.info({ signal }, 'shutting down: not ready, ending streams, finishing calls');
    try {
      await Promise.all(running.map((service) => service.stop()));
      await store.close();
      logger.info('stopped');
      logger.flush();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
