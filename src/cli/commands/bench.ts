// `hearth bench`: placeholder registration (filled in by its issue).
import type { Command } from 'commander';

/** Registers the `bench` command on the program. */
export function registerBench(_program: Command): void {}
