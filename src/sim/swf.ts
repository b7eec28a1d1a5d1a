// Standard Workload Format importer (Parallel Workloads Archive traces, `.swf`): a pure parser of the text and the
// mapping of each job to task instances that fit hearth's boards.
import { ParseError } from '../physics/errors.ts';
import type { InstanceArrival, SwfParams } from './workloads.ts';

/** One SWF job line: the 18 standard fields, −1 where unknown. Times s, memory KB per processor. */
export interface SwfJob {
  /** 1-based line of the job in the file. */
  readonly line: number;
  readonly jobNumber: number;
  /** Submit time, s from the start of the trace. */
  readonly submitS: number;
  readonly waitS: number;
  readonly runS: number;
  readonly allocatedProcs: number;
  readonly avgCpuS: number;
  /** Used memory per processor, KB. */
  readonly usedMemoryKB: number;
  readonly requestedProcs: number;
  /** Requested (estimated) run time, s. */
  readonly requestedTimeS: number;
  /** Requested memory per processor, KB. */
  readonly requestedMemoryKB: number;
  /** 1 completed, 0 failed, 5 cancelled, 2/3/4 partial executions of a checkpointed job, −1 unknown. */
  readonly status: number;
  readonly user: number;
  readonly group: number;
  readonly executable: number;
  readonly queue: number;
  readonly partition: number;
  readonly precedingJob: number;
  readonly thinkTimeS: number;
}

/** A parsed trace: header comments (`; Key: value`) and jobs in file order. */
export interface SwfTrace {
  readonly header: Readonly<Record<string, string>>;
  readonly jobs: readonly SwfJob[];
}

const FIELDS = 18;

/**
 * Parses SWF text (pure). Lines starting with `;` are header comments (`; Key: value` pairs are kept in `header`);
 * blank lines are skipped; every other line must hold exactly 18 whitespace-separated numbers. Throws ParseError
 * naming the 1-based line for a wrong field count or a non-numeric field.
 */
export function parseSwf(text: string, source = 'swf'): SwfTrace {
  const header: Record<string, string> = {};
  const jobs: SwfJob[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    if (line.startsWith(';')) {
      const m = /^;\s*([^:]+?)\s*:\s*(.*)$/.exec(line);
      if (m && !(m[1] in header)) header[m[1]] = m[2].trim();
      continue;
    }
    const cells = line.split(/\s+/);
    if (cells.length !== FIELDS) throw new ParseError(source, i + 1, `expected ${FIELDS} fields, got ${cells.length}`);
    const v = cells.map((c, k) => {
      const x = Number(c);
      if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(c) || !Number.isFinite(x)) {
        throw new ParseError(source, i + 1, `field ${k + 1} is not a number: '${c}'`);
      }
      return x;
    });
    jobs.push({
      line: i + 1,
      jobNumber: v[0],
      submitS: v[1],
      waitS: v[2],
      runS: v[3],
      allocatedProcs: v[4],
      avgCpuS: v[5],
      usedMemoryKB: v[6],
      requestedProcs: v[7],
      requestedTimeS: v[8],
      requestedMemoryKB: v[9],
      status: v[10],
      user: v[11],
      group: v[12],
      executable: v[13],
      queue: v[14],
      partition: v[15],
      precedingJob: v[16],
      thinkTimeS: v[17],
    });
  }
  return { header, jobs };
}

/** Why a job is not imported, or null when it is. */
export function swfSkipReason(job: SwfJob, keepFailed = true): string | null {
  if (job.status === 5) return 'cancelled';
  if (job.status === 0 && !keepFailed) return 'failed';
  if (!(job.runS > 0)) return 'unknown or zero run time';
  if (!(job.allocatedProcs > 0) && !(job.requestedProcs > 0)) return 'unknown processor count';
  if (job.submitS < 0) return 'unknown submit time';
  return null;
}

/**
 * Maps a trace to instance arrivals (sorted by submission). Mapping, documented:
 * - skipped: cancelled jobs (status 5, whether or not they ran), failed jobs (status 0) unless `keepFailed`
 *   (default: kept, they used the machine), jobs with unknown/zero run time or processors or submit time;
 *   partial executions (2/3/4) are imported as separate jobs; at most `maxJobs` jobs are kept (after skipping);
 * - a job of P processors (allocated, else requested) becomes one task of ⌈P / coresPerInstance⌉ instances,
 *   each of coresPerInstance cores (the last one takes the remainder): one instance per board-sized chunk;
 * - submission = submit time × timeScale, s from the scenario start; work of every instance = run time × workScale
 *   board-seconds at top frequency (the traced processors are taken as one top-level board's cores); the estimate
 *   is the requested time × workScale when known, else the work;
 * - memory per instance = used (else requested) memory per processor × the instance's cores, else memoryMB;
 * - no deadline; type, priority, checkpointable, dataMB and dataSite come from the parameters.
 * Task ids are firstTaskId, firstTaskId + 1, … in order of the kept jobs.
 */
export function swfToArrivals(trace: SwfTrace, p: SwfParams, workload: number, firstTaskId: number): InstanceArrival[] {
  const out: InstanceArrival[] = [];
  let taskId = firstTaskId;
  let kept = 0;
  for (const job of trace.jobs) {
    if (p.maxJobs !== null && kept >= p.maxJobs) break;
    if (swfSkipReason(job, p.keepFailed) !== null) continue;
    kept++;
    const procs = job.allocatedProcs > 0 ? job.allocatedProcs : job.requestedProcs;
    const instances = Math.ceil(procs / p.coresPerInstance);
    const workS = job.runS * p.workScale;
    const estWorkS = job.requestedTimeS > 0 ? job.requestedTimeS * p.workScale : workS;
    const memKB = job.usedMemoryKB > 0 ? job.usedMemoryKB : job.requestedMemoryKB > 0 ? job.requestedMemoryKB : -1;
    for (let k = 0; k < instances; k++) {
      const cores = Math.min(p.coresPerInstance, Math.ceil(procs) - k * p.coresPerInstance);
      out.push({
        taskId,
        instanceIndex: k,
        workload,
        submittedS: job.submitS * p.timeScale,
        type: p.type,
        priority: p.priority,
        cores,
        memoryMB: memKB > 0 ? (memKB * cores) / 1024 : p.memoryMB,
        gpu: false,
        workS,
        estWorkS,
        deadlineS: null,
        checkpointable: p.checkpointable,
        dataMB: p.dataMB,
        dataSite: p.dataSite,
      });
    }
    taskId++;
  }
  out.sort((a, b) => a.submittedS - b.submittedS || a.taskId - b.taskId || a.instanceIndex - b.instanceIndex);
  return out;
}
