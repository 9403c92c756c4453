import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { blindBound, lag1Autocorrelation, ruleBound } from '../../bench/sim/bounds.js';
import { runSim } from '../../bench/sim/cli.js';
import { allowedViolationSeconds, checkGoals } from '../../bench/sim/goals.js';
import { oracleReplicas } from '../../bench/sim/model.js';
import { SCALER_NAMES, simulate } from '../../bench/sim/simulate.js';
import { parseTrace, type Trace } from '../../bench/sim/trace.js';

const csvOf = (rps: number[]) => `t,rps\n${rps.map((r, t) => `${t},${r}`).join('\n')}\n`;
/** Ten minutes: 60 rps, a 300 rps plateau from 2:00 to 6:00, back to 60. */
const plateau: number[] = Array.from({ length: 600 }, (_, t) => (t >= 120 && t < 360 ? 300 : 60));
const trace: Trace = parseTrace('plateau.csv', csvOf(plateau));
const FIELDS = ['oracle_ratio', 'replica_seconds', 'scale_changes', 'slo_violation_seconds'];

describe('simulate', () => {
  const result = simulate(trace);

  it('reports the four numbers for each of the four scalers', () => {
    expect(result.trace).toBe('plateau.csv');
    expect(Object.keys(result.results).sort()).toEqual([...SCALER_NAMES].sort());
    for (const name of SCALER_NAMES) {
      const r = result.results[name];
      expect(Object.keys(r).sort()).toEqual(FIELDS);
      expect(Number.isInteger(r.slo_violation_seconds) && r.slo_violation_seconds >= 0).toBe(true);
      expect(Number.isInteger(r.scale_changes) && r.scale_changes >= 0).toBe(true);
      // Every scaler holds between 1 and 50 replicas in every second.
      expect(r.replica_seconds).toBeGreaterThanOrEqual(plateau.length);
      expect(r.replica_seconds).toBeLessThanOrEqual(plateau.length * 50);
      expect(r.oracle_ratio).toBe(Math.round((r.replica_seconds / result.results.oracle.replica_seconds) * 1000) / 1000);
    }
  });

  it('is deterministic: two runs give the same numbers', () => {
    expect(simulate(trace)).toEqual(result);
  });

  it('runs the oracle as specified: fewest replicas at u <= 0.8 every second, no violation', () => {
    const expected = plateau.reduce((a, load) => a + Math.max(1, Math.ceil(load / 80)), 0);
    expect(result.results.oracle).toEqual({
      slo_violation_seconds: 0,
      replica_seconds: expected,
      oracle_ratio: 1,
      scale_changes: 2,
    });
    expect(oracleReplicas(400)).toBe(5);
  });

  it('makes every reactive scaler pay for the step up, and Orchestry least', () => {
    const { orchestry, hpa, legacy } = result.results;
    // A jump from 1 to 4 replicas' worth of load cannot be seen for 20 s nor served for 50 s.
    for (const r of [orchestry, hpa, legacy]) expect(r.slo_violation_seconds).toBeGreaterThanOrEqual(50);
    expect(orchestry.slo_violation_seconds).toBeLessThan(hpa.slo_violation_seconds);
    expect(orchestry.slo_violation_seconds).toBeLessThan(legacy.slo_violation_seconds);
  });

  it('leaves a flat load within capacity alone', () => {
    const flat = simulate(parseTrace('flat.csv', csvOf(Array.from({ length: 300 }, () => 30))));
    for (const name of SCALER_NAMES) {
      expect(flat.results[name]).toEqual({ slo_violation_seconds: 0, replica_seconds: 300, oracle_ratio: 1, scale_changes: 0 });
    }
  });

  it('checks the goals against the baselines', () => {
    const goals = checkGoals(result);
    expect(goals.map((g) => g.goal)).toEqual(['SLO vs hpa', 'SLO vs legacy', 'cost', 'stability']);
    expect(goals.slice(0, 2).every((g) => g.met)).toBe(true);
  });

  it('allows strictly fewer violation seconds than every baseline that has any', () => {
    const allowed = allowedViolationSeconds(result);
    const { hpa, legacy } = result.results;
    expect(allowed).toBe(Math.min(Math.max(0, hpa.slo_violation_seconds - 1), Math.max(0, legacy.slo_violation_seconds - 1)));
  });

  it('bounds the replica-seconds of Orchestry, which obeys the threshold rules, from below', () => {
    const bound = ruleBound(trace);
    expect(bound.oracle_replica_seconds).toBe(result.results.oracle.replica_seconds);
    expect(bound.bound_replica_seconds).toBeGreaterThan(0);
    expect(bound.bound_replica_seconds).toBeLessThanOrEqual(result.results.orchestry.replica_seconds);
    expect(bound.bound_oracle_ratio).toBe(Math.round((bound.bound_replica_seconds / bound.oracle_replica_seconds) * 1000) / 1000);
  });
});

describe('parseTrace', () => {
  it('names the line and the fix for a bad trace', () => {
    expect(() => parseTrace('x.csv', 'time,load\n0,1\n')).toThrow(/x\.csv: the first line must be the header "t,rps"/);
    expect(() => parseTrace('x.csv', 't,rps\n0,1\n2,1\n')).toThrow(/x\.csv:3: t must count seconds from 0 without gaps; expected 1, got 2/);
    expect(() => parseTrace('x.csv', 't,rps\n0,-4\n')).toThrow(/x\.csv:2: expected "t,rps"/);
    expect(() => parseTrace('x.csv', 't,rps\n')).toThrow(/no rows/);
  });
});

describe('npm run sim -- --trace FILE --json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orchestry-sim-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints exactly {"trace": FILE, "results": {orchestry, hpa, legacy, oracle}}', () => {
    const file = join(dir, 'plateau.csv');
    writeFileSync(file, csvOf(plateau));
    const printed = JSON.parse(runSim({ trace: file, json: true })) as Record<string, unknown>;
    expect(Object.keys(printed)).toEqual(['trace', 'results']);
    expect(printed).toEqual(simulate({ ...trace, name: file }));
  });

  it('prints one table per trace, with the goals under it', () => {
    const file = join(dir, 'plateau.csv');
    const printed = runSim({ trace: file });
    for (const name of SCALER_NAMES) expect(printed).toContain(name);
    expect(printed).toMatch(/SLO vs hpa: \d+ s vs \d+ s/);
    expect(runSim({ trace: file, markdown: true })).toContain('| scaler | slo_violation_seconds | replica_seconds | oracle_ratio | scale_changes |');
    const named = { ...trace, name: file };
    const rules = ruleBound(named);
    expect(JSON.parse(runSim({ trace: file, bounds: true, json: true }))).toEqual({
      ...rules,
      ...blindBound(named, rules.oracle_replica_seconds, allowedViolationSeconds(simulate(named))),
    });
  });
});

describe('blindBound', () => {
  // White noise: each second 60 rps (one replica carries it) or 150 rps (needs two), by a
  // fixed linear congruential sequence, so the trace is the same on every run.
  let seed = 12345;
  const noise = Array.from({ length: 2000 }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31 < 0.5 ? 60 : 150;
  });
  const noisy = parseTrace('noise.csv', csvOf(noise));
  const high = noise.filter((l) => l === 150).length;
  const oracle = noise.reduce((a, l) => a + oracleReplicas(l), 0);

  it('treats white noise as memoryless and a plateau as not', () => {
    expect(Math.abs(lag1Autocorrelation(noise))).toBeLessThan(0.1);
    expect(blindBound(trace, 1, 0).blind_replica_seconds).toBeNull();
  });

  it('holds two replicas throughout when no violation is allowed', () => {
    const bound = blindBound(noisy, oracle, 0);
    expect(bound.blind_replica_seconds).toBe(2 * noise.length);
    expect(bound.blind_oracle_ratio).toBe(Math.round(((2 * noise.length) / oracle) * 1000) / 1000);
  });

  it('mixes one and two replicas so that the expected violations meet the allowance', () => {
    // One replica violates in every high second; the cheapest mix holding violations to half
    // of them holds two replicas in half the seconds.
    const bound = blindBound(noisy, oracle, high / 2);
    expect(bound.blind_replica_seconds).toBe(Math.round(1.5 * noise.length));
    expect(blindBound(noisy, oracle, high).blind_replica_seconds).toBe(noise.length);
  });
});
