// Every wire contract of hearth's compute API in one place: schemas, static types and pure helpers.
export * from './errors.ts';
export * from './common.ts';
export * from './ranges.ts';
export * from './timespan.ts';
export * from './task-state.ts';
export * from './hardware.ts';
export * from './tasks.ts';
export * from './jobs.ts';
export * from './account.ts';
