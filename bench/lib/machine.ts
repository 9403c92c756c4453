/** The machine a run came from: figures are only comparable with their machine beside them. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { MachineInfo } from './types.js';

function osName(): string {
  try {
    const release = readFileSync('/etc/os-release', 'utf8');
    const pretty = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(release)?.[1];
    if (pretty) return pretty;
  } catch {
    // Not Linux: the platform name says enough.
  }
  return `${os.type()} ${os.release()}`;
}

function gitCommit(): string | null {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return dirty ? `${commit}+uncommitted` : commit;
  } catch {
    return null;
  }
}

/**
 * Milliseconds a fixed single-threaded loop takes now: on a machine shared with other work it
 * grows with the contention, so a reader can tell a quiet run from a crowded one.
 */
export function cpuCalibrationMs(): number {
  const began = performance.now();
  let x = 0;
  for (let i = 0; i < 20_000_000; i++) x = (x + i * 7) % 1_000_003;
  if (x < 0) throw new Error('unreachable: keeps the loop from being optimised away');
  return Math.round(performance.now() - began);
}

export function loadAverage(): number[] {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

export function machineInfo(postgresVersion: string): MachineInfo {
  const cpus = os.cpus();
  return {
    load_average_at_start: loadAverage(),
    cpu_calibration_ms_at_start: cpuCalibrationMs(),
    os: osName(),
    kernel: os.release(),
    cpu_model: cpus[0]?.model.trim() ?? 'unknown',
    cpus: os.availableParallelism(),
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: postgresVersion,
    git_commit: gitCommit(),
  };
}
