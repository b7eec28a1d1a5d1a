// `hearth usage`: the caller's credits, the compute its instances used, and what was billed for it (the charges
// ledger), over a range, through the SDK.
import type { Command } from 'commander';
import { InvalidParameterError } from '../../physics/errors.ts';
import { action, clientFromConfig, formatOf, printFields, printJson, printTable, withFormat } from './config.ts';

interface UsageFlags {
  from?: string;
  to?: string;
  format?: string;
}

/** An ISO 8601 date or time of a flag, checked here (the server checks it again). */
function timeOf(flag: string, s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || Number.isNaN(Date.parse(s))) throw new InvalidParameterError(flag, `must be an ISO 8601 date or time (e.g. 2026-11-01 or 2026-11-01T00:00:00Z), got ${JSON.stringify(s)}`);
  return new Date(Date.parse(s)).toISOString();
}

/** Registers `hearth usage`. */
export function registerUsage(program: Command): void {
  withFormat(
    program
      .command('usage')
      .description('your credits, the compute used and what was billed for it, over [--from, --to) (needs "hearth config set")')
      .option('--from <time>', 'start of the range, ISO 8601 (default: the beginning)')
      .option('--to <time>', 'end of the range, exclusive, ISO 8601 (default: now)'),
  ).action(
    action(async (f: UsageFlags) => {
      const format = formatOf(f);
      const from = timeOf('--from', f.from);
      const to = timeOf('--to', f.to);
      const client = clientFromConfig();
      const [info, usage] = await Promise.all([client.info(), client.platform.usage({ from, to })]);
      if (format === 'json') {
        printJson({ credits: info.credits, ...usage });
        return;
      }
      printFields([
        ['credits', `${info.credits.toFixed(6)} €`],
        ['range', `${usage.from ?? 'the beginning'} → ${usage.to ?? 'now'}`],
        ['attempts', usage.attempts],
        ['CPU core-hours used', usage.coreHours.toFixed(4)],
        ['energy', `${usage.energyWh.toFixed(1)} Wh (its heat went into homes and water tanks)`],
        ['billed core-hours', usage.billed.coreHours.toFixed(4)],
        ['billed', `${usage.billed.eur.toFixed(6)} €`],
      ]);
      if (usage.billed.byType.length > 0) {
        process.stdout.write('\n');
        printTable(
          ['scheduling', 'charges', 'core-hours', '€'],
          usage.billed.byType.map((b) => [b.schedulingType, b.charges, b.coreHours.toFixed(4), b.eur.toFixed(6)]),
        );
      }
    }),
  );
}
