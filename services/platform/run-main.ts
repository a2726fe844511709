import type { Logger } from 'pino';
import { openStore } from '../store/open-store.js';
import type { MessageStore } from '../store/store.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { payloadBudgetOf, startService, type RunningService, type ServiceDefinition } from './start-service.js';

type Env = Record<string, string | undefined>;

/** What {@link runMain} started: the first service's configuration (storage is shared) and each service. */
export interface MainStarted {
  config: Readonly<Config>;
  services: RunningService[];
}

/**
 * A process entry point: reads the configuration of each service, opens one
 * shared store, starts the services and shuts them down gracefully on SIGTERM
 * or SIGINT (not ready, streams ended, in-flight calls finished, exit 0).
 * A bad configuration exits 2 with one line naming the variable. Resolves
 * once every service listens, so an entry point can tell people where.
 */
export async function runMain(definitions: ServiceDefinition[], env: Env = process.env): Promise<MainStarted> {
  let configs: Readonly<Config>[];
  try {
    configs = definitions.map((definition) => loadConfig(definition.name, envFor(definition, definitions, env)));
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
      running.push(await startService(definition, { config: configs[index]!, logger, store, payloadBudget }));
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

/** Several services in one process each need their own port: SERVER_PORT applies to a lone one only. */
function envFor(definition: ServiceDefinition, all: ServiceDefinition[], env: Env): Env {
  if (all.length === 1) return env;
  const own = env[`${definition.name.toUpperCase()}_PORT`];
  return { ...env, SERVER_PORT: own };
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
