// `hearth weather`: climate statistics of synthetic weather for a zone or of an RT2012 / EPW file, as JSON.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidParameterError } from '../../physics/errors.ts';
import { isEpwText, parseEpw } from '../../physics/weather/epw.ts';
import { isRt2012Text, parseRt2012 } from '../../physics/weather/rt2012.ts';
import { weatherStats } from '../../physics/weather/stats.ts';
import { CLIMATE_ZONES, generateWeather } from '../../physics/weather/synthetic.ts';
import type { ClimateZone } from '../../physics/weather/synthetic.ts';
import type { WeatherSeries } from '../../physics/weather/types.ts';

interface StatsOptions {
  zone?: string;
  synthetic?: boolean;
  seed?: string;
  years?: string;
  file?: string;
}

function parseNumberFlag(flag: string, value: string, min: number, max: number, integer: boolean): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw new InvalidParameterError(flag, `must be ${integer ? 'an integer' : 'a number'} within ${min}..${max}, got "${value}"`);
  }
  return v;
}

/** Reads a weather file and detects its format (RT2012 matrix or EPW) from its first line. */
function readWeatherFile(path: string): { series: WeatherSeries; format: 'rt2012' | 'epw' } {
  const text = readFileSync(path, 'latin1');
  if (isRt2012Text(text)) return { series: parseRt2012(text, path), format: 'rt2012' };
  if (isEpwText(text)) return { series: parseEpw(text, path).series, format: 'epw' };
  throw new InvalidParameterError('--file', `${path} is neither an RT2012 file (starts with "#1") nor an EPW file (starts with "LOCATION,")`);
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

/** Runs `weather stats` and returns the JSON-ready result (temperatures °C, degree-days K·day per year). */
export function weatherStatsCommand(opts: StatsOptions): Record<string, unknown> {
  const zone = opts.zone;
  if (zone === undefined || !(CLIMATE_ZONES as readonly string[]).includes(zone)) {
    throw new InvalidParameterError('--zone', `must be one of ${CLIMATE_ZONES.join(', ')}, got "${zone ?? ''}"`);
  }
  if (opts.synthetic && opts.file !== undefined) throw new InvalidParameterError('--file', 'cannot be combined with --synthetic');
  if (!opts.synthetic && opts.file === undefined) throw new InvalidParameterError('--synthetic', 'give --synthetic or --file PATH');
  let series: WeatherSeries;
  let source: Record<string, unknown>;
  if (opts.synthetic) {
    const seed = parseNumberFlag('--seed', opts.seed ?? '1', 0, 2 ** 32 - 1, true);
    const years = parseNumberFlag('--years', opts.years ?? '20', 1, 1000, true);
    series = generateWeather(zone as ClimateZone, { seed, years });
    source = { source: 'synthetic', seed, years };
  } else {
    if (opts.seed !== undefined) throw new InvalidParameterError('--seed', 'only applies with --synthetic');
    if (opts.years !== undefined) throw new InvalidParameterError('--years', 'only applies with --synthetic');
    const file = readWeatherFile(opts.file as string);
    series = file.series;
    source = { source: 'file', file: opts.file, format: file.format };
  }
  const st = weatherStats(series);
  return {
    zone,
    ...source,
    monthlyMeanC: st.monthlyMeanC.map(round2),
    monthlyMeanDailyRangeC: st.monthlyMeanDailyRangeC.map(round2),
    hdd18: round2(st.hdd18),
    hdd18MinMax: round2(st.hdd18MinMax),
    annualMeanC: round2(st.annualMeanC),
  };
}

/** Registers the `weather` command on the program. */
export function registerWeather(program: Command): void {
  const weather = program.command('weather').description('weather files and the synthetic weather generator');
  weather
    .command('stats')
    .description('monthly means, daily ranges and heating degree-days (base 18 °C) as JSON')
    .option('--zone <zone>', `climate zone (${CLIMATE_ZONES.join(', ')})`)
    .option('--synthetic', 'generate synthetic weather for the zone')
    .option('--seed <seed>', 'seed of the synthetic weather (default 1)')
    .option('--years <years>', 'years of synthetic weather (default 20)')
    .option('--file <path>', 'an RT2012 or EPW weather file (format detected)')
    .action((opts: StatsOptions) => {
      process.stdout.write(`${JSON.stringify(weatherStatsCommand(opts), null, 2)}\n`);
    });
}
