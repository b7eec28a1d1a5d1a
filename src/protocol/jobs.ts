// Wire schemas of jobs: groups of tasks, optionally with dependencies between them.
import { Type, type Static } from 'typebox';
import { Nullable, Opt } from './common.ts';
import { Shortname, TASK_LIMITS } from './tasks.ts';

export const JOB_STATES = ['Active', 'Terminating', 'Completed', 'Deleting'] as const;
export type JobStateName = (typeof JOB_STATES)[number];

/** `POST /jobs` body. `maxWallTime` is a .NET time span ("d.hh:mm:ss") or seconds. */
export const JobCreateSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: TASK_LIMITS.nameLength - 1 }),
  shortname: Opt(Shortname),
  useDependencies: Opt(Type.Boolean()),
  maxWallTime: Opt(Type.Union([Type.String({ maxLength: 64 }), Type.Number({ minimum: 0 })])),
  poolUuid: Opt(Type.String()),
});
export type JobCreate = Static<typeof JobCreateSchema>;

/** A job as the API shows it. */
export const JobOutputSchema = Type.Object(
  {
    uuid: Type.String(),
    name: Type.String(),
    shortname: Type.String(),
    state: Type.Enum(JOB_STATES),
    useDependencies: Type.Boolean(),
    maxWallTime: Nullable(Type.String()),
    poolUuid: Type.Null(),
    taskCount: Type.Integer(),
    creationDate: Type.String(),
    lastModified: Type.String(),
    endDate: Nullable(Type.String()),
  },
);
export type JobOutput = Static<typeof JobOutputSchema>;

/** `DELETE /jobs/{uuid}?force=true`: also abort its live tasks. */
export const JobDeleteQuery = Type.Object({ force: Type.Optional(Type.Boolean()) });
