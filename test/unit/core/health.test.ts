import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HEALTH_STATUSES } from '../../../db/schema.js';
import { isProbeDue, nextHealth, nextProbeAt, type Health, type HealthState } from '../../../functions/core/health.js';

const thresholds = { failureThreshold: 3, successThreshold: 2 };
const fresh = (health: Health): HealthState => ({ health, consecutiveFailures: 0, consecutiveSuccesses: 0 });

/** Applies probe results in order and returns every state along the way. */
function run(start: HealthState, results: boolean[], limits = thresholds) {
  const states: Array<HealthState & { changed: boolean }> = [];
  let state = start;
  for (const ok of results) {
    const next = nextHealth(state, { ok }, limits);
    states.push(next);
    state = next;
  }
  return states;
}

describe('nextHealth', () => {
  it('uses the health values of the instances table', () => {
    const states: Health[] = ['unknown', 'starting', 'healthy', 'unhealthy'];
    expect([...states].sort()).toEqual([...HEALTH_STATUSES].sort());
  });

  it.each<Health>(['starting', 'unknown'])('%s becomes healthy after successThreshold successes in a row', (start) => {
    const states = run(fresh(start), [true, true, true]);
    expect(states.map((s) => s.health)).toEqual([start, 'healthy', 'healthy']);
    expect(states.map((s) => s.changed)).toEqual([false, true, false]);
    expect(states.map((s) => s.consecutiveSuccesses)).toEqual([1, 2, 3]);
  });

  it.each<Health>(['starting', 'unknown'])('%s becomes unhealthy after failureThreshold failures in a row', (start) => {
    const states = run(fresh(start), [false, false, false]);
    expect(states.map((s) => s.health)).toEqual([start, start, 'unhealthy']);
    expect(states.map((s) => s.changed)).toEqual([false, false, true]);
    expect(states.map((s) => s.consecutiveFailures)).toEqual([1, 2, 3]);
  });

  it('a healthy replica stays healthy through fewer failures than the threshold', () => {
    const states = run(fresh('healthy'), [false, false, true, false, false]);
    expect(states.every((s) => s.health === 'healthy' && !s.changed)).toBe(true);
    expect(states.map((s) => [s.consecutiveFailures, s.consecutiveSuccesses])).toEqual([
      [1, 0],
      [2, 0],
      [0, 1],
      [1, 0],
      [2, 0],
    ]);
  });

  it('a success resets the failure count, so failures must be consecutive', () => {
    const states = run(fresh('healthy'), [false, false, true, false, false, false]);
    expect(states.map((s) => s.health)).toEqual(['healthy', 'healthy', 'healthy', 'healthy', 'healthy', 'unhealthy']);
    expect(states.at(-1)!.changed).toBe(true);
  });

  it('an unhealthy replica recovers after successThreshold successes in a row', () => {
    const states = run({ health: 'unhealthy', consecutiveFailures: 7, consecutiveSuccesses: 0 }, [true, false, true, true]);
    expect(states.map((s) => s.health)).toEqual(['unhealthy', 'unhealthy', 'unhealthy', 'healthy']);
    expect(states.map((s) => s.changed)).toEqual([false, false, false, true]);
    expect(states[0]).toMatchObject({ consecutiveFailures: 0, consecutiveSuccesses: 1 });
  });

  it('with thresholds of 1 every probe decides', () => {
    const states = run(fresh('starting'), [true, false, true], { failureThreshold: 1, successThreshold: 1 });
    expect(states.map((s) => s.health)).toEqual(['healthy', 'unhealthy', 'healthy']);
    expect(states.every((s) => s.changed)).toBe(true);
  });

  it('continues from counters stored by an earlier invocation', () => {
    const next = nextHealth({ health: 'healthy', consecutiveFailures: 2, consecutiveSuccesses: 0 }, { ok: false }, thresholds);
    expect(next).toEqual({ health: 'unhealthy', consecutiveFailures: 3, consecutiveSuccesses: 0, changed: true });
  });

  it('never leaves the state without reaching a threshold, and counters stay consistent', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Health>('unknown', 'starting', 'healthy', 'unhealthy'),
        fc.array(fc.boolean(), { maxLength: 40 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        (start, results, failureThreshold, successThreshold) => {
          let state: HealthState = fresh(start);
          for (const ok of results) {
            const next = nextHealth(state, { ok }, { failureThreshold, successThreshold });
            expect(next.consecutiveFailures === 0 || next.consecutiveSuccesses === 0).toBe(true);
            expect(next.changed).toBe(next.health !== state.health);
            if (next.changed) {
              expect(next.health).toBe(ok ? 'healthy' : 'unhealthy');
              expect(ok ? next.consecutiveSuccesses >= successThreshold : next.consecutiveFailures >= failureThreshold).toBe(true);
            }
            state = next;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('isProbeDue and nextProbeAt', () => {
  const started = new Date('2024-05-01T12:00:00.000Z');
  const at = (seconds: number) => new Date(started.getTime() + seconds * 1000);
  const check = { initialDelaySeconds: 30, periodSeconds: 10 };

  it('waits initialDelaySeconds after the replica started', () => {
    const instance = { startedAt: started, lastHealthCheck: null };
    expect(nextProbeAt(instance, check)).toEqual(at(30));
    expect(isProbeDue(instance, check, at(0))).toBe(false);
    expect(isProbeDue(instance, check, at(29.5))).toBe(false);
    expect(isProbeDue(instance, check, at(30))).toBe(true);
    expect(isProbeDue(instance, check, at(500))).toBe(true);
  });

  it('then probes every periodSeconds after the last probe', () => {
    const instance = { startedAt: started, lastHealthCheck: at(31) };
    expect(nextProbeAt(instance, check)).toEqual(at(41));
    expect(isProbeDue(instance, check, at(35))).toBe(false);
    expect(isProbeDue(instance, check, at(41))).toBe(true);
    expect(isProbeDue(instance, check, at(100))).toBe(true);
  });

  it('allows a tenth of the period (at most a second) of slack for the prober tick', () => {
    const instance = { startedAt: started, lastHealthCheck: at(40.05) };
    // A prober ticking every 10 s stamps the probe a little after its tick began.
    expect(isProbeDue(instance, check, at(50))).toBe(true);
    expect(isProbeDue(instance, check, at(48.9))).toBe(false);
    const fast = { initialDelaySeconds: 0, periodSeconds: 2 };
    expect(isProbeDue({ startedAt: started, lastHealthCheck: at(10) }, fast, at(11.85))).toBe(true);
    expect(isProbeDue({ startedAt: started, lastHealthCheck: at(10) }, fast, at(11.75))).toBe(false);
  });

  it('never probes before the initial delay, slack or not', () => {
    const instance = { startedAt: started, lastHealthCheck: null };
    expect(isProbeDue(instance, { initialDelaySeconds: 30, periodSeconds: 10 }, at(29.9))).toBe(false);
  });

  it('a probe made during the initial delay (POST health/check) does not move the first scheduled one earlier', () => {
    const instance = { startedAt: started, lastHealthCheck: at(5) };
    expect(nextProbeAt(instance, check)).toEqual(at(30));
    expect(isProbeDue(instance, check, at(20))).toBe(false);
  });

  it('is never due when checks are disabled or the replica has not started', () => {
    expect(nextProbeAt({ startedAt: started, lastHealthCheck: null }, { ...check, enabled: false })).toBeNull();
    expect(isProbeDue({ startedAt: started, lastHealthCheck: null }, { ...check, enabled: false }, at(1000))).toBe(false);
    expect(nextProbeAt({ startedAt: null, lastHealthCheck: null }, check)).toBeNull();
    expect(isProbeDue({ startedAt: null, lastHealthCheck: null }, check, at(1000))).toBe(false);
    expect(isProbeDue({ startedAt: started, lastHealthCheck: null }, { ...check, enabled: null }, at(30))).toBe(true);
  });
});
