// `hearth validate`: placeholder registration (filled in by its issue).
import type { Command } from 'commander';

/** Registers the `validate` command on the program. */
export function registerValidate(_program: Command): void {}
