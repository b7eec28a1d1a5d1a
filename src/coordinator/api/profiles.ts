// The profiles hearth runs and the hardware constraints its fleet can satisfy (static catalogues).
import type { Profile } from '../../protocol/account.ts';
import type { HardwareConstraint } from '../../protocol/hardware.ts';

/** Every profile, by name. */
export const PROFILES: Record<string, Profile> = {
  'docker-batch': {
    name: 'docker-batch',
    constants: [
      { name: 'DOCKER_REPO', value: 'library/ubuntu', description: 'Image repository (runs where the node has a container runtime)' },
      { name: 'DOCKER_TAG', value: 'latest', description: 'Image tag' },
      { name: 'DOCKER_CMD', value: '', description: 'Command to run; ${NAME} expands from the instance environment (INSTANCE_ID, FRAME_ID, QRANK, QSIZE, TASK_PATH, constants)' },
      { name: 'DOCKER_WORKDIR', value: '', description: 'Working directory inside the container' },
      { name: 'DOCKER_PROGRESS1', value: '', description: 'Regex reading progress (a percentage) out of stdout' },
      { name: 'DOCKER_PROGRESS2', value: '', description: 'Second progress regex' },
      { name: 'DOCKER_PROGRESS3', value: '', description: 'Third progress regex' },
    ],
    licenses: [],
  },
};

/** Hardware constraints the fleet offers (`GET /hardware-constraints`). */
export const HARDWARE_CATALOGUE: HardwareConstraint[] = [
  ...[1, 2, 4, 8, 16].map((coreCount): HardwareConstraint => ({ discriminator: 'MinimumCoreHardwareConstraint', coreCount })),
  ...[1, 2, 4, 8, 16].map((coreCount): HardwareConstraint => ({ discriminator: 'MaximumCoreHardwareConstraint', coreCount })),
  ...[2048, 4096, 8192, 16384, 32768].map((minimumMemoryMB): HardwareConstraint => ({ discriminator: 'MinimumRamHardwareConstraint', minimumMemoryMB })),
  ...[4096, 8192, 16384, 32768].map((maximumMemoryMB): HardwareConstraint => ({ discriminator: 'MaximumRamHardwareConstraint', maximumMemoryMB })),
  { discriminator: 'NoGpuHardwareConstraint' },
  { discriminator: 'GpuHardwareConstraint' },
  { discriminator: 'SSDHardwareConstraint' },
  { discriminator: 'NoSSDHardwareConstraint' },
];
