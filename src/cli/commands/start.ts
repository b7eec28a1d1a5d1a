// `hearth start` (what `npm start` runs): the platform in one process — the coordinator's compute API, hearth API
// and S3 storage endpoint on one port, SQLite in the data directory (or PostgreSQL with --db), no configuration.
import type { Command } from 'commander';
import { InvalidParameterError } from '../../physics/errors.ts';
import { startPlatform, STORAGE_PREFIX, type Platform } from '../../coordinator/server.ts';
import { localExecutor } from '../local-fleet.ts';
import { readFileSync } from 'node:fs';
import { parseCarbonCsv, seriesCarbonSource, type CarbonSource } from '../../coordinator/accounting/carbon.ts';

export interface StartFlags {
  port: string;
  host: string;
  data: string;
  db?: string;
  logs?: boolean;
  carbonCsv?: string;
}

/** The carbon source of `--carbon-csv FILE` (time,gCO2e/kWh rows; outside the series: the same date of a covered year). */
export function carbonSourceFromFile(path: string): CarbonSource {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InvalidParameterError('--carbon-csv', `cannot read ${path}: ${(e as Error).message}`);
  }
  return seriesCarbonSource(parseCarbonCsv(text, path), { outside: 'wrap-year' });
}

/** Parses the flags of `hearth start`. @throws InvalidParameterError naming the flag */
export function startOptionsFromFlags(f: StartFlags, env: Record<string, string | undefined> = process.env): { port: number; host: string; dataDir: string; db?: string; logger: boolean } {
  const port = Number(f.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidParameterError('--port', `must be an integer in 0..65535, got ${f.port}`);
  if (f.host.trim() === '') throw new InvalidParameterError('--host', 'must not be empty');
  if (f.data.trim() === '') throw new InvalidParameterError('--data', 'must not be empty');
  const db = f.db ?? (env.HEARTH_DB?.trim() || undefined);
  return { port, host: f.host, dataDir: f.data, db, logger: f.logs === true };
}

/** What `hearth start` prints once the platform listens. */
export function startBanner(p: Platform): string {
  const lines = [
    `hearth is running at ${p.url}`,
    `  compute API   ${p.url}/  (also under /v1; OpenAPI at /openapi.json, docs at /docs)`,
    `  hearth API    ${p.url}/hearth/v1`,
    `  storage (S3)  ${p.url}${STORAGE_PREFIX}  (access key = account email, secret = API token)`,
    `  data          ${p.dataDir}`,
  ];
  if (p.bootstrap.source === 'generated' && p.bootstrap.token) {
    lines.push('', `operator token (shown once, store it now): ${p.bootstrap.token}`, `  create a customer: hearth account create --email you@example.com --credits 100 --data ${p.dataDir}`);
  } else if (p.bootstrap.source === 'env') {
    lines.push('', 'operator token: the one in HEARTH_BOOTSTRAP_TOKEN');
  }
  return lines.join('\n') + '\n';
}

/** Registers `hearth start`. */
export function registerStart(program: Command): void {
  program
    .command('start')
    .description('start the platform: compute API, hearth API and S3 storage on one port, data in ./data')
    .option('--port <n>', 'TCP port', '8080')
    .option('--host <addr>', 'interface to listen on', '127.0.0.1')
    .option('--data <dir>', 'data directory (SQLite file, objects, seal key)', './data')
    .option('--db <url>', 'store: postgres://… or a SQLite file (default: hearth.db in the data directory; env HEARTH_DB)')
    .option('--logs', 'structured JSON logs on stdout')
    .option('--carbon-csv <file>', 'grid carbon intensity series for carbon facts (CSV: time,gCO2e/kWh); default a constant 56.3')
    .action(async (flags: StartFlags) => {
      const o = startOptionsFromFlags(flags);
      const carbonSource = flags.carbonCsv ? carbonSourceFromFile(flags.carbonCsv) : undefined;
      const platform = await startPlatform({ port: o.port, host: o.host, dataDir: o.dataDir, db: o.db, logger: o.logger, carbonSource, fleet: { executor: localExecutor } });
      process.stdout.write(startBanner(platform));
      await new Promise<void>((resolveStop) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void platform.close().finally(resolveStop);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
