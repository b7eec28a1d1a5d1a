// Runs the room kernel on all cores: worker threads step disjoint ranges of rooms over shared typed arrays,
// in chunks of steps between which the caller may change controls (utilisation, levels, gains).
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { allocateFleetArrays, fleetBuffers, RoomKernel } from '../physics/kernel.ts';
import type { FleetArrays, KernelArchetype, KernelGroup } from '../physics/kernel.ts';

/** Shared inputs for a run: for each step and group, the group's full input vector (padded to nuMax). */
export interface SharedInputs {
  readonly steps: number;
  readonly groups: number;
  readonly nuMax: number;
  /** steps × groups × nuMax, row-major; may be backed by a SharedArrayBuffer. */
  readonly values: Float64Array;
}

/** Allocates SharedInputs backed by a SharedArrayBuffer. */
export function allocateSharedInputs(steps: number, groups: number, nuMax: number): SharedInputs {
  return { steps, groups, nuMax, values: new Float64Array(new SharedArrayBuffer(steps * groups * nuMax * 8)) };
}

/** Views of one step's input vectors, one per group (no copy). */
export function stepInputs(s: SharedInputs, step: number): Float64Array[] {
  return Array.from({ length: s.groups }, (_, g) => s.values.subarray((step * s.groups + g) * s.nuMax, (step * s.groups + g + 1) * s.nuMax));
}

/** Messages to a kernel worker. */
export type KernelWorkerRequest =
  | {
      readonly kind: 'init';
      readonly archetypes: readonly KernelArchetype[];
      readonly groups: readonly KernelGroup[];
      readonly rooms: number;
      readonly buffers: ArrayBufferLike[];
      readonly inputs: SharedInputs;
      readonly from: number;
      readonly to: number;
    }
  | { readonly kind: 'run'; readonly fromStep: number; readonly toStep: number };

/** Messages from a kernel worker. */
export type KernelWorkerReply = { readonly kind: 'ready' } | { readonly kind: 'done'; readonly steps: number } | { readonly kind: 'error'; readonly message: string };

const WORKER_URL = new URL('./kernel-worker.ts', import.meta.url).href;

/** Starts a worker running kernel-worker.ts through the TypeScript loader. */
function startWorker(): Worker {
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL)}); })`;
  return new Worker(boot, { eval: true });
}

/** Steps a fleet on `threads` worker threads (default: all cores), each owning a contiguous range of rooms. */
export class ParallelKernel {
  private readonly workers: Worker[] = [];
  readonly fleet: FleetArrays;

  private constructor(fleet: FleetArrays) {
    this.fleet = fleet;
  }

  /** Creates the fleet arrays (shared) and the workers; resolves once every worker has compiled its kernel. */
  static async create(
    archetypes: readonly KernelArchetype[],
    groups: readonly KernelGroup[],
    rooms: number,
    inputs: SharedInputs,
    threads = availableParallelism(),
  ): Promise<ParallelKernel> {
    const nStates = Math.max(...archetypes.map((a) => a.model.nx));
    // Validates the layout in this thread first, so a bad spec fails here with a clear error.
    const fleet = allocateFleetArrays(rooms, nStates, true);
    new RoomKernel(archetypes, groups, fleet);
    const pk = new ParallelKernel(fleet);
    const { buffers } = fleetBuffers(fleet);
    const n = Math.max(1, Math.min(threads, rooms));
    const ready: Promise<void>[] = [];
    for (let w = 0; w < n; w++) {
      const worker = startWorker();
      pk.workers.push(worker);
      const from = Math.floor((rooms * w) / n);
      const to = Math.floor((rooms * (w + 1)) / n);
      ready.push(pk.request(worker, { kind: 'init', archetypes, groups, rooms, buffers, inputs, from, to }).then(() => undefined));
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      await pk.close();
      throw e;
    }
    return pk;
  }

  private request(worker: Worker, msg: KernelWorkerRequest): Promise<KernelWorkerReply> {
    return new Promise((resolve, reject) => {
      const onMessage = (r: KernelWorkerReply): void => {
        cleanup();
        if (r.kind === 'error') reject(new Error(r.message));
        else resolve(r);
      };
      const onError = (e: Error): void => {
        cleanup();
        reject(e);
      };
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.postMessage(msg);
    });
  }

  /** Runs steps [fromStep, toStep) on every worker; resolves when all ranges are done. */
  async run(fromStep: number, toStep: number): Promise<void> {
    await Promise.all(this.workers.map((w) => this.request(w, { kind: 'run', fromStep, toStep })));
  }

  /** Number of worker threads. */
  get threads(): number {
    return this.workers.length;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
