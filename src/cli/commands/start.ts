// `hearth start`: placeholder registration (filled in by its issue).
import type { Command } from 'commander';

/** Registers the `start` command on the program. */
export function registerStart(_program: Command): void {}
