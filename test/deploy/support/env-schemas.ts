// Each deployable's environment schema, from its own source (services/<name>/src/config.ts): the
// only list of the variables it reads. `load` is the service's own loader, rules included (a
// token secret or a JWKS endpoint for the api and the gateway, an ingest token for the
// simulator), so an environment it accepts is one the service starts with.
import { databaseEnv } from '@agentos/runtime';
import { z } from 'zod';
import { apiEnv, loadApiConfig } from '../../../services/api/src/config';
import { bridgeEnv as bullmqEnv, loadBridgeConfig as loadBullmqConfig } from '../../../services/bullmq-bridge/src/config';
import { loadWarmerConfig, warmerEnv } from '../../../services/cache-warmer/src/config';
import { bridgeEnv as celeryEnv, loadBridgeConfig as loadCeleryConfig } from '../../../services/celery-bridge/src/config';
import { collectorEnv, loadCollectorConfig } from '../../../services/collector/src/config';
import { dispatcherEnv, loadDispatcherConfig } from '../../../services/dispatcher/src/config';
import { gatewayEnv, loadGatewayConfig } from '../../../services/realtime-gateway/src/config';
import { loadSimulatorConfig, simulatorEnv } from '../../../services/simulator/src/config';

export interface EnvSchema {
  /** Every variable the deployable reads. */
  names: ReadonlySet<string>;
  /** Its loader: throws one error naming every problem, as at start. */
  load(env: Record<string, string>): unknown;
  /** Its PORT when none is set (CONTRACT §1). */
  defaultPort?: number;
}

const migrateEnv = z.object(databaseEnv);

function schema(object: z.ZodObject, load: (env: NodeJS.ProcessEnv) => unknown): EnvSchema {
  const port = object.shape.PORT as z.ZodType<number> | undefined;
  return { names: new Set(Object.keys(object.shape)), load, defaultPort: port?.parse(undefined) };
}

export const ENV_SCHEMAS: Readonly<Record<string, EnvSchema>> = {
  api: schema(apiEnv, loadApiConfig),
  'realtime-gateway': schema(gatewayEnv, loadGatewayConfig),
  collector: schema(collectorEnv, loadCollectorConfig),
  'cache-warmer': schema(warmerEnv, loadWarmerConfig),
  dispatcher: schema(dispatcherEnv, loadDispatcherConfig),
  'celery-bridge': schema(celeryEnv, loadCeleryConfig),
  'bullmq-bridge': schema(bullmqEnv, loadBullmqConfig),
  // No launcher data directory to fall back on: the token must be in the environment.
  simulator: schema(simulatorEnv, (env) => loadSimulatorConfig({ ...env, SSOT_DATA_DIR: '/nonexistent' }, [])),
  // `node packages/db/dist/cli/migrate.js` reads DATABASE_URL alone.
  migrate: schema(migrateEnv, (env) => migrateEnv.parse(env)),
};

/**
 * A valid value for each variable a Secret provides, so a manifest's environment can be loaded
 * as the service would load it: what a Secret holds is checked by the service at start, what the
 * manifest writes out is checked here.
 */
export const SECRET_STAND_INS: Readonly<Record<string, string>> = {
  REDIS_URL: 'redis://redis.example.internal:6379',
  DATABASE_URL: 'postgresql://ssot:stand-in@postgres.example.internal:5432/ssot',
  AUTH_JWT_SECRET: 'a-stand-in-secret-that-is-long-enough-0123456789',
  INGEST_TOKENS: 'stand-in-ingest-token-0123456789',
  INGEST_TOKEN: 'stand-in-ingest-token-0123456789',
  CELERY_BROKER_URL: 'redis://celery-broker.example.internal:6379/0',
  BULLMQ_REDIS_URL: 'redis://bullmq.example.internal:6379',
  ALERT_WEBHOOK_URL: 'https://alerts.example.internal/hook',
};

/**
 * Variables that carry a secret, or a URL that may hold a password: only ever from a Secret (or,
 * in compose, a file made by init-secrets.sh), never written in a manifest.
 */
export const SECRET_VARIABLES = new Set([...Object.keys(SECRET_STAND_INS), 'POSTGRES_PASSWORD']);
