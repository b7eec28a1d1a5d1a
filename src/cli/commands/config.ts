// `hearth config set|show`: where the customer commands (task, bucket, job, fleet, thermostat) find the API URL
// and token — `$HEARTH_CONFIG_DIR/config.json`, else `$XDG_CONFIG_HOME/hearth/config.json`, else
// `~/.config/hearth/config.json` (file 0600, directory 0700); HEARTH_API_URL and HEARTH_TOKEN override it.
// Also the helpers those commands share: the client from the config, `--format`, tables, and one-line errors.
import type { Command } from 'commander';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { InvalidParameterError } from '../../physics/errors.ts';
import { HearthApiError, HearthClient, HearthNetworkError, HearthTimeoutError } from '../../sdk/index.ts';

/** What the config file holds. */
export interface CliConfig {
  url?: string;
  token?: string;
}

/** The config file's path (see the header). */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HEARTH_CONFIG_DIR?.trim()) return join(env.HEARTH_CONFIG_DIR, 'config.json');
  const base = env.XDG_CONFIG_HOME?.trim() ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'hearth', 'config.json');
}

/** Reads the config file ({} when there is none); a malformed file is an error naming it. */
export function readConfig(path = configPath()): CliConfig {
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new InvalidParameterError(path, `not valid JSON (${(e as Error).message}); fix it or run "hearth config set" again`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidParameterError(path, 'must hold a JSON object');
  const o = parsed as Record<string, unknown>;
  return { url: typeof o.url === 'string' ? o.url : undefined, token: typeof o.token === 'string' ? o.token : undefined };
}

/** Writes the config file with mode 0600 in a 0700 directory (atomically: a temporary file renamed). */
export function writeConfig(config: CliConfig, path = configPath()): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** The effective URL and token and where each comes from. */
export function effectiveConfig(env: NodeJS.ProcessEnv = process.env): { url?: string; token?: string; urlFrom: string; tokenFrom: string; path: string } {
  const path = configPath(env);
  const file = readConfig(path);
  const envUrl = env.HEARTH_API_URL?.trim();
  const envToken = env.HEARTH_TOKEN?.trim();
  return {
    url: envUrl || file.url,
    token: envToken || file.token,
    urlFrom: envUrl ? 'env HEARTH_API_URL' : file.url ? path : 'unset',
    tokenFrom: envToken ? 'env HEARTH_TOKEN' : file.token ? path : 'unset',
    path,
  };
}

/** A token shown safely: its first 4 and last 4 characters. */
export function maskToken(token: string | undefined): string {
  if (!token) return '(unset)';
  if (token.length <= 12) return '****';
  return `${token.slice(0, 4)}…${token.slice(-4)}`;
}

function checkUrl(url: string, field: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidParameterError(field, `not a URL: ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidParameterError(field, `must be an http(s) URL, got ${JSON.stringify(url)}`);
  return url.replace(/\/+$/, '');
}

/** The SDK client of the configured account; a missing URL or token is an error saying how to set it. */
export function clientFromConfig(): HearthClient {
  const c = effectiveConfig();
  if (!c.url) throw new InvalidParameterError('url', 'no API URL: run "hearth config set --url URL" or set HEARTH_API_URL');
  if (!c.token) throw new InvalidParameterError('token', 'no token: run "hearth config set --token TOKEN" or set HEARTH_TOKEN');
  return new HearthClient({ url: checkUrl(c.url, 'url'), token: c.token });
}

// ---------------------------------------------------------------------------------------------------------
// Output helpers shared by the SDK-based commands

/** Output format of a command. */
export type Format = 'table' | 'json';

/** Adds `--format <table|json>` to a command. */
export function withFormat(cmd: Command): Command {
  return cmd.option('--format <format>', 'table (for people) or json (for scripts)', 'table');
}

/** The `--format` of parsed options; anything else than table/json is an error naming the flag. */
export function formatOf(opts: { format?: string }): Format {
  const f = opts.format ?? 'table';
  if (f !== 'table' && f !== 'json') throw new InvalidParameterError('--format', `must be table or json, got ${JSON.stringify(f)}`);
  return f;
}

/** Prints a value as JSON on one line (scripts) . */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

/** Prints rows as an aligned table under a header (an em dash for null/undefined). */
export function printTable(headers: string[], rows: Array<Array<string | number | null | undefined>>): void {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined || c === '' ? '—' : String(c))));
  const widths = headers.map((h, k) => Math.max([...h].length, ...cells.map((r) => [...(r[k] ?? '')].length)));
  const line = (r: string[]): string => r.map((c, k) => (k === r.length - 1 ? c : c + ' '.repeat(widths[k] - [...c].length))).join('  ');
  process.stdout.write(line(headers) + '\n');
  for (const r of cells) process.stdout.write(line(r) + '\n');
}

/** Prints `key: value` lines, aligned. */
export function printFields(fields: Array<[string, string | number | boolean | null | undefined]>): void {
  const w = Math.max(...fields.map(([k]) => k.length));
  for (const [k, v] of fields) process.stdout.write(`${(k + ':').padEnd(w + 1)} ${v === null || v === undefined || v === '' ? '—' : String(v)}\n`);
}

/** Whether progress bars may be drawn (stdout is a terminal, not CI). */
export function progressEnabled(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.CI;
}

/** Turns the SDK's errors into one clear line (the server's code, status and field) for `hearth: …` on stderr. */
export function cliError(e: unknown): unknown {
  if (e instanceof HearthApiError) return new Error(`${e.request ? `${e.request}: ` : ''}${e.code} (${e.status})${e.field ? ` ${e.field}` : ''}: ${e.message}`);
  if (e instanceof HearthNetworkError || e instanceof HearthTimeoutError) return new Error(e.message);
  return e;
}

/** Wraps a command action so SDK errors exit non-zero with one line. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      throw cliError(e);
    }
  };
}

interface SetFlags {
  url?: string;
  token?: string;
  tokenStdin?: boolean;
}

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch (e) {
    throw new InvalidParameterError('--token-stdin', `cannot read standard input: ${(e as Error).message}`);
  }
}

/** Registers `hearth config …`. */
export function registerConfig(program: Command): void {
  const config = program.command('config').description('API URL and token of the customer commands (task, bucket, job, fleet, thermostat)');
  config
    .command('set')
    .description(`store the API URL and/or token (file 0600; HEARTH_API_URL / HEARTH_TOKEN override it)`)
    .argument('[key]', 'url or token (with [value]), instead of the flags')
    .argument('[value]', 'the value of [key]')
    .option('--url <url>', 'API base URL, e.g. http://127.0.0.1:8080')
    .option('--token <token>', 'API token (visible in the process list; prefer --token-stdin)')
    .option('--token-stdin', 'read the token from standard input')
    .action(
      action((key: string | undefined, value: string | undefined, f: SetFlags) => {
        let url = f.url;
        let token = f.token;
        if (key !== undefined) {
          if (value === undefined) throw new InvalidParameterError('value', `give a value for ${key}`);
          if (key === 'url') url = value;
          else if (key === 'token') token = value;
          else throw new InvalidParameterError('key', `must be url or token, got ${JSON.stringify(key)}`);
        }
        if (f.tokenStdin) token = readStdin().trim();
        if (url === undefined && token === undefined) throw new InvalidParameterError('--url', 'give --url and/or --token (or --token-stdin)');
        if (url !== undefined) url = checkUrl(url.trim(), '--url');
        if (token !== undefined && (token.trim() === '' || /\s/.test(token.trim()))) throw new InvalidParameterError('--token', 'must be a non-empty token without spaces');
        const path = configPath();
        const cur = readConfig(path);
        writeConfig({ ...cur, ...(url === undefined ? {} : { url }), ...(token === undefined ? {} : { token: token.trim() }) }, path);
        process.stdout.write(`saved ${[url === undefined ? '' : 'url', token === undefined ? '' : 'token'].filter(Boolean).join(' and ')} to ${path}\n`);
        return Promise.resolve();
      }),
    );
  withFormat(
    config
      .command('show')
      .description('print the effective URL and the token (masked) and where each comes from'),
  ).action(
    action((f: { format?: string }) => {
      const c = effectiveConfig();
      const out = { url: c.url ?? null, urlFrom: c.urlFrom, token: c.token ? maskToken(c.token) : null, tokenFrom: c.tokenFrom, path: c.path };
      if (formatOf(f) === 'json') printJson(out);
      else printFields([['url', out.url], ['  from', out.urlFrom], ['token', out.token], ['  from', out.tokenFrom], ['config file', out.path]]);
      return Promise.resolve();
    }),
  );
}
