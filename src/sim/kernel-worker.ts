// Worker-thread side of ParallelKernel: compiles the kernel over the shared fleet arrays and steps its range.
import { parentPort } from 'node:worker_threads';
import { fleetFromBuffers, RoomKernel } from '../physics/kernel.ts';
import { stepInputs } from './parallel-kernel.ts';
import type { KernelWorkerReply, KernelWorkerRequest, SharedInputs } from './parallel-kernel.ts';

let kernel: RoomKernel | undefined;
let inputs: SharedInputs | undefined;
let range: [number, number] = [0, 0];

const port = parentPort;
if (!port) throw new Error('kernel-worker must run in a worker thread');

port.on('message', (msg: KernelWorkerRequest) => {
  let reply: KernelWorkerReply;
  try {
    switch (msg.kind) {
      case 'init':
        kernel = new RoomKernel(msg.archetypes, msg.groups, fleetFromBuffers(msg.rooms, msg.buffers));
        inputs = msg.inputs;
        range = [msg.from, msg.to];
        reply = { kind: 'ready' };
        break;
      case 'run': {
        if (!kernel || !inputs) throw new Error('run before init');
        for (let s = msg.fromStep; s < msg.toStep; s++) kernel.step(stepInputs(inputs, s), range[0], range[1]);
        reply = { kind: 'done', steps: msg.toStep - msg.fromStep };
        break;
      }
    }
  } catch (e) {
    reply = { kind: 'error', message: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply);
});
