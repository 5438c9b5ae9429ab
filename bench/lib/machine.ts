// What the numbers were measured on. The machine may be shared with other work, so the
// load average is recorded before and after a run: a reader can then discount a run
// that competed for the cores.
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  cpuModel: string; // /proc/cpuinfo "model name", else os.cpus()
  cores: number; // logical CPUs the OS reports
  memoryGiB: number;
  node: string;
  v8: string;
  platform: string;
  arch: string;
  loadavgBefore: number[]; // os.loadavg(): 1, 5, 15 minutes
  loadavgAfter: number[] | null; // filled in when the run ends
}

export function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux: fall through to what Node knows
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export function machineInfo(): MachineInfo {
  return {
    cpuModel: cpuModel(),
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
    loadavgBefore: loadavg(),
    loadavgAfter: null,
  };
}

export function loadavg(): number[] {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}
