// `hearth weather`: placeholder registration (filled in by its issue).
import type { Command } from 'commander';

/** Registers the `weather` command on the program. */
export function registerWeather(_program: Command): void {}
