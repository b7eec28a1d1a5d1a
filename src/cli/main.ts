// Entry point of the `hearth` command: builds the commander program from the command modules and runs it.
import { Command, CommanderError } from 'commander';
import { InvalidParameterError, ParseError } from '../physics/errors.ts';
import { registerStart } from './commands/start.ts';
import { registerDemo } from './commands/demo.ts';
import { registerAccount } from './commands/account.ts';
import { registerAgent } from './commands/agent.ts';
import { registerValidate } from './commands/validate.ts';
import { registerWeather } from './commands/weather.ts';
import { registerBench } from './commands/bench.ts';
import { registerSim } from './commands/sim.ts';
import { registerConfig } from './commands/config.ts';
import { registerTask } from './commands/task.ts';
import { registerBucket } from './commands/bucket.ts';
import { registerJob } from './commands/job.ts';
import { registerFleet } from './commands/fleet.ts';
import { registerThermostat } from './commands/thermostat.ts';
import { registerUsage } from './commands/usage.ts';

/** Builds the program; exported for tests. */
export function buildProgram(): Command {
  const program = new Command('hearth')
    .description('hearth: compute cloud on the heaters of homes and offices')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();
  registerStart(program);
  registerAccount(program);
  registerAgent(program);
  registerDemo(program);
  registerValidate(program);
  registerWeather(program);
  registerBench(program);
  registerSim(program);
  registerConfig(program);
  registerTask(program);
  registerBucket(program);
  registerJob(program);
  registerUsage(program);
  registerFleet(program);
  registerThermostat(program);
  return program;
}

/** Runs the CLI with process-style argv; returns the exit code (0 ok, 1 runtime failure, 2 bad input). */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    process.exitCode = undefined;
    await buildProgram().parseAsync([...argv]);
    // A command may set a failing exit code without throwing (e.g. a validation case that does not pass).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof InvalidParameterError || e instanceof ParseError) {
      process.stderr.write(`hearth: ${e.message}\n`);
      return 2;
    }
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && err.code.startsWith('E') && err.path) {
      process.stderr.write(`hearth: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`hearth: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
