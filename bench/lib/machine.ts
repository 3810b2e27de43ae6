import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release } from 'node:os';

export type Machine = {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  uvThreadpoolSize: number;
};

export function machineInfo(): Machine {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  let memoryGiB = 0;
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpuModel;
    const mem = readFileSync('/proc/meminfo', 'utf8');
    memoryGiB = Math.round((Number(/^MemTotal:\s+(\d+) kB/m.exec(mem)?.[1] ?? 0) / 1024 / 1024) * 10) / 10;
  } catch {}
  return {
    nproc: availableParallelism(),
    cpuModel,
    memoryGiB,
    kernel: release(),
    node: process.version,
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE) || 4,
  };
}
