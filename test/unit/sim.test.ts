import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { blindBound, lag1Autocorrelation, ruleBound, stabilizedBound } from '../../bench/sim/bounds.js';
import { frontierFile, runSim, TRACES_DIR, tracesFor } from '../../bench/sim/cli.js';
import { HPA_TARGETS, ORCHESTRY_TARGETS, type Frontier } from '../../bench/sim/frontier.js';
import { GENERATED_TRACES, generatedCsv, seededRandom } from '../../bench/sim/generate.js';
import { allowedViolationSeconds, checkGoals } from '../../bench/sim/goals.js';
import { reactionSeconds, reversals } from '../../functions/core/sim/metrics.js';
import { oracleReplicas } from '../../functions/core/sim/model.js';
import { SCALER_NAMES, simulate } from '../../bench/sim/simulate.js';
import { parseTrace, type Trace } from '../../bench/sim/trace.js';

const csvOf = (rps: number[]) => `t,rps\n${rps.map((r, t) => `${t},${r}`).join('\n')}\n`;
/** Ten minutes: 60 rps, a 300 rps plateau from 2:00 to 6:00, back to 60. */
const plateau: number[] = Array.from({ length: 600 }, (_, t) => (t >= 120 && t < 360 ? 300 : 60));
const trace: Trace = parseTrace('plateau.csv', csvOf(plateau));
const FIELDS = ['oracle_ratio', 'reaction_seconds', 'replica_seconds', 'reversals', 'rules_bound_ratio', 'scale_changes', 'slo_violation_seconds'];

describe('simulate', () => {
  const result = simulate(trace);

  it('reports every column for each of the four scalers', () => {
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
      expect(r.rules_bound_ratio).toBe(Math.round((r.replica_seconds / ruleBound(trace).bound_replica_seconds) * 1000) / 1000);
      expect(r.reversals).toBeLessThanOrEqual(Math.max(0, r.scale_changes - 1));
      // The reaction episodes are the runs of violation seconds.
      expect(r.reaction_seconds.episodes > 0).toBe(r.slo_violation_seconds > 0);
      expect(r.reaction_seconds.max).toBeLessThanOrEqual(r.slo_violation_seconds);
    }
  });

  it('is deterministic: two runs give the same numbers', () => {
    expect(simulate(trace)).toEqual(result);
  });

  it('runs the oracle as specified: fewest replicas at u <= 0.8 every second, no violation', () => {
    const expected = plateau.reduce((a, load) => a + Math.max(1, Math.ceil(load / 80)), 0);
    expect(result.results.oracle).toMatchObject({
      slo_violation_seconds: 0,
      replica_seconds: expected,
      oracle_ratio: 1,
      scale_changes: 2,
      reversals: 1,
      reaction_seconds: { median: 0, max: 0, episodes: 0 },
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
      expect(flat.results[name]).toMatchObject({ slo_violation_seconds: 0, replica_seconds: 300, oracle_ratio: 1, scale_changes: 0, reversals: 0 });
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
    expect(runSim({ trace: file, markdown: true })).toContain(
      '| scaler | slo_violation_seconds | replica_seconds | oracle_ratio | rules_bound_ratio | scale_changes | reversals | reaction s (median / max) |',
    );
    const named = { ...trace, name: file };
    const rules = ruleBound(named);
    const simulated = simulate(named);
    const stabilized = stabilizedBound(named, simulated.results.orchestry.slo_violation_seconds, rules);
    expect(JSON.parse(runSim({ trace: file, bounds: true, json: true }))).toEqual({
      ...rules,
      ...blindBound(named, rules.oracle_replica_seconds, allowedViolationSeconds(simulated)),
      stabilized_violation_seconds: stabilized.allowed_violation_seconds,
      stabilized_replica_seconds: stabilized.stabilized_replica_seconds,
      stabilized_rules_ratio: stabilized.stabilized_rules_ratio,
    });
    expect(JSON.parse(runSim({ trace: file, bounds: true, json: true, allowViolations: '0' })).stabilized_violation_seconds).toBe(0);
    expect(() => runSim({ trace: file, bounds: true, allowViolations: 'lots' })).toThrow(/--allow-violations must be a whole number/);
  });

  it('runs bench/traces and then the real traces, and says so when the real ones are absent', () => {
    const without = tracesFor({ realDir: join(dir, 'no-such-dir') });
    expect(without.traces.map((t) => t.name)).toEqual(Object.keys(GENERATED_TRACES).concat(['diurnal.csv', 'noisy-flat.csv', 'ramp.csv', 'spikes.csv', 'step.csv']).sort());
    expect(without.notes.join('\n')).toMatch(/real traces: none in .*no-such-dir .*skipped/);
    const real = mkdtempSync(join(tmpdir(), 'orchestry-real-'));
    try {
      writeFileSync(join(real, 'real-synthetic.csv'), csvOf([10, 20, 30]));
      const withReal = tracesFor({ realDir: real });
      expect(withReal.traces.at(-1)?.name).toBe('real-synthetic.csv');
      expect(withReal.notes).toEqual([]);
    } finally {
      rmSync(real, { recursive: true, force: true });
    }
  });
});

describe('npm run sim -- --frontier', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orchestry-frontier-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints every swept point of both scalers and writes the trace's SVG chart", () => {
    const file = join(dir, 'plateau.csv');
    writeFileSync(file, csvOf(plateau));
    const written: string[] = [];
    const f = JSON.parse(runSim({ trace: file, frontier: true, json: true, out: dir }, (line) => written.push(line))) as Frontier;
    expect(Object.keys(f).sort()).toEqual(['dominated', 'hpa', 'oracle_replica_seconds', 'orchestry', 'trace', 'undominatable']);
    expect(f.hpa.map((p) => p.target)).toEqual([...HPA_TARGETS]);
    expect(f.orchestry.map((p) => p.target)).toEqual([...ORCHESTRY_TARGETS]);
    for (const p of [...f.hpa, ...f.orchestry]) {
      expect(Number.isInteger(p.replica_seconds) && p.replica_seconds >= plateau.length).toBe(true);
      expect(Number.isInteger(p.slo_violation_seconds) && p.slo_violation_seconds >= 0).toBe(true);
    }
    for (const h of f.hpa) {
      const by = f.orchestry.find((o) => o.target === h.dominated_by);
      if (h.dominated_by === null) {
        expect(f.orchestry.some((o) => o.replica_seconds <= h.replica_seconds && o.slo_violation_seconds <= h.slo_violation_seconds)).toBe(false);
      } else {
        expect(by!.replica_seconds).toBeLessThanOrEqual(h.replica_seconds);
        expect(by!.slo_violation_seconds).toBeLessThanOrEqual(h.slo_violation_seconds);
      }
      // A point below every rules bound cannot be dominated.
      if (h.below_every_rules_bound) expect(h.dominated_by).toBeNull();
    }
    expect(f.dominated).toBe(f.hpa.filter((h) => h.dominated_by !== null).length);
    const svg = readFileSync(frontierFile(dir, file), 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<circle /g)).toHaveLength(ORCHESTRY_TARGETS.length);
    expect(svg.match(/<rect x="[\d.]+" y="[\d.]+" width="(7|11)"/g)).toHaveLength(HPA_TARGETS.length);
    expect(written.join('\n')).toContain('frontier-plateau.svg');
  });
});

describe('reversals and reaction_seconds', () => {
  it('counts a reversal each time the count turns around, holds in between not counting', () => {
    expect(reversals([1, 1, 2, 3, 3, 2, 2, 1, 4, 4])).toBe(2);
    expect(reversals([5, 4, 3, 2, 1])).toBe(0);
    expect(reversals([])).toBe(0);
  });

  it('measures each run of too few ready replicas from the load step to enough ready', () => {
    const short = [false, true, true, true, false, false, true, false, true, true, true, true, true];
    expect(reactionSeconds(short)).toEqual({ median: 3, max: 5, episodes: 3 });
    expect(reactionSeconds([true, true, false, true])).toEqual({ median: 1.5, max: 2, episodes: 2 });
    expect(reactionSeconds([false, false])).toEqual({ median: 0, max: 0, episodes: 0 });
  });
});

describe('stabilizedBound', () => {
  // 100 rps with one 60-second spike to 800 at 5 minutes, for 20 minutes.
  const spike = parseTrace('spike.csv', csvOf(Array.from({ length: 1200 }, (_, t) => (t >= 300 && t < 360 ? 800 : 100))));
  const rules = ruleBound(spike);

  it('is at least the rules bound, and no lower for fewer allowed violations', () => {
    const free = stabilizedBound(spike, spike.rps.length, rules);
    const none = stabilizedBound(spike, 0, rules);
    expect(free.stabilized_replica_seconds).toBeGreaterThanOrEqual(rules.bound_replica_seconds);
    expect(none.stabilized_replica_seconds).toBeGreaterThanOrEqual(free.stabilized_replica_seconds);
    expect(none.stabilized_rules_ratio).toBe(Math.round((none.stabilized_replica_seconds / rules.bound_replica_seconds) * 1000) / 1000);
  });

  it("holds the spike's count for the stabilization window once it is served", () => {
    // Serving the spike needs 10 replicas; the window then keeps at least 10 until 300 s after
    // the last decision that saw it (at 370), i.e. to 670, against 2 for the rest of the trace.
    const none = stabilizedBound(spike, 0, rules);
    expect(none.stabilized_replica_seconds).toBeGreaterThanOrEqual(2 * 1200 + 8 * (670 - 300) - 100);
  });

  it("bounds Orchestry from below at Orchestry's own violation seconds", () => {
    for (const t of [spike, trace]) {
      const simulated = simulate(t);
      const bound = stabilizedBound(t, simulated.results.orchestry.slo_violation_seconds);
      expect(bound.stabilized_replica_seconds).toBeLessThanOrEqual(simulated.results.orchestry.replica_seconds);
    }
  });
});

describe('the generated traces (npm run sim:traces)', () => {
  it('are what the seeded generator writes, byte for byte', () => {
    for (const file of Object.keys(GENERATED_TRACES)) {
      expect(readFileSync(join(TRACES_DIR, file), 'utf8'), file).toBe(generatedCsv(file));
    }
  });

  it('come from a seeded generator: the same seed gives the same numbers', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const first = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
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
