/**
 * What every benchmark suite reports. Each suite runs Orchestry and a reference doing the same
 * work in the same run, so `ratio` (always orchestry / reference, in the suite's unit) holds
 * on a noisy machine even when the absolute figures move.
 */

export const SUITE_NAMES = [
  'scaler_tick_1k',
  'scaler_tick_10k',
  'ingestion',
  'api_get_app',
  'api_list_apps',
  'cold_start',
  'prober_pass',
  'spec_limits',
] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

export interface Goal {
  /** The goal in words, as the issue states it. */
  goal: string;
  /** What was measured against it, in words with the number. */
  actual: string;
  met: boolean;
}

export interface SuiteResult {
  /** Orchestry's figure, in `unit`. */
  orchestry: number;
  /** The reference's figure for the same work in the same run, in `unit`. */
  reference: number;
  unit: string;
  /** orchestry / reference. */
  ratio: number;
  /** Whether a higher figure is better (throughput) or worse (time). */
  higher_is_better: boolean;
  /** What Orchestry did and what the reference did, in one line each. */
  orchestry_does: string;
  reference_does: string;
  goals: Goal[];
  /** Percentiles, statement counts, sizes: whatever the suite measured besides. */
  [extra: string]: unknown;
}

export interface BenchContext {
  /** Tiny sizes: checks that the suite runs and reports, measures nothing worth reading. */
  tiny: boolean;
  /** The Postgres server the suites create their databases on. */
  serverUrl: string;
  log(message: string): void;
}

export interface Suite {
  /** One suite module may produce several results (the scaler tick at 1k and at 10k apps). */
  names: readonly SuiteName[];
  /** The results of the names in `only`; a name that failed has its error under `failures`. */
  run(ctx: BenchContext, only: ReadonlySet<SuiteName>): Promise<SuiteRun>;
}

export interface SuiteRun {
  results: Partial<Record<SuiteName, SuiteResult>>;
  failures?: Partial<Record<SuiteName, unknown>>;
}

export interface MachineInfo {
  /** 1, 5 and 15 minute load averages when the run started and ended: the machine may be shared. */
  load_average_at_start: number[];
  load_average_at_end?: number[];
  /** A fixed loop's time (machine.ts cpuCalibrationMs) at start and end; higher means more contention. */
  cpu_calibration_ms_at_start: number;
  cpu_calibration_ms_at_end?: number;
  os: string;
  kernel: string;
  cpu_model: string;
  cpus: number;
  memory_gb: number;
  node: string;
  postgres: string;
  git_commit: string | null;
}

export interface BenchResults {
  machine: MachineInfo;
  started_at: string;
  duration_seconds: number;
  tiny: boolean;
  suites: Partial<Record<SuiteName, SuiteResult>>;
  /** Suites that failed to run, with the error. */
  failures?: Partial<Record<SuiteName, string>>;
}
