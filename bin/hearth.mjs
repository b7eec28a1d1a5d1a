#!/usr/bin/env node
// The `hearth` command: registers the TypeScript loader, then hands over to src/cli/main.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
