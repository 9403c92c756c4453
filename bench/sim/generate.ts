/**
 * `npm run sim:traces`: writes the synthetic traces of bench/traces/ that are not hand-made
 * (flash-crowd, on-off, pareto-bursts, week) from a fixed seed, so anyone can regenerate them
 * byte for byte and see exactly how they were made. docs/scaling.md describes each shape.
 *
 * None of them was shaped to suit a scaler: each follows a textbook model of its kind of load
 * (an exponentially decaying flash crowd, exponential on/off periods, Pareto-sized bursts, a
 * weekday/weekend daily cycle) with parameters chosen before any scaler ran on it.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GENERATOR_SEED = 20250601;

/** mulberry32: a small, well-known 32-bit PRNG; the same seed gives the same sequence everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal by Box–Muller. */
function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

const exponential = (random: () => number, mean: number) => -mean * Math.log(Math.max(random(), 1e-12));
/** Pareto with scale xm and shape alpha: heavy-tailed (alpha 1.5 has a finite mean, infinite variance). */
const pareto = (random: () => number, xm: number, alpha: number) => xm / Math.pow(Math.max(random(), 1e-12), 1 / alpha);
const round1 = (x: number) => Math.round(Math.max(0, x) * 10) / 10;

/**
 * One hour: a steady 80 rps with 5 % noise, and three flash crowds (at 6, 25 and 45 minutes)
 * that rise to 5–9× the base within 15 s and decay exponentially (time constant 2–5 min), the
 * classic "slashdot effect" shape.
 */
export function flashCrowd(random: () => number): number[] {
  const seconds = 3600;
  const crowds = [360, 1500, 2700].map((start) => ({
    start,
    peak: 80 * (5 + 4 * random()),
    rise: 15,
    decay: 120 + 180 * random(),
  }));
  return Array.from({ length: seconds }, (_, t) => {
    let load = 80;
    for (const c of crowds) {
      if (t < c.start) continue;
      const since = t - c.start;
      const shape = since < c.rise ? since / c.rise : Math.exp(-(since - c.rise) / c.decay);
      load += (c.peak - 80) * shape;
    }
    return round1(load * (1 + 0.05 * gaussian(random)));
  });
}

/**
 * One hour of on/off traffic (a batch client, a cron fleet): "on" periods of exponential
 * length (mean 150 s, at least 30 s) at 300–500 rps, "off" periods (mean 200 s, at least 30 s)
 * at 20 rps, with 8 % noise.
 */
export function onOff(random: () => number): number[] {
  const seconds = 3600;
  const load: number[] = [];
  let on = false;
  while (load.length < seconds) {
    const length = Math.max(30, Math.round(exponential(random, on ? 150 : 200)));
    const level = on ? 300 + 200 * random() : 20;
    for (let i = 0; i < length && load.length < seconds; i++) load.push(round1(level * (1 + 0.08 * gaussian(random))));
    on = !on;
  }
  return load;
}

/**
 * One hour: a 150 rps base with 10 % noise, and bursts arriving as a Poisson process (one every
 * 4 minutes on average) whose heights are Pareto (scale 100 rps, shape 1.5, capped at 1500) and
 * lengths Pareto (scale 15 s, shape 1.5, capped at 300 s): most bursts are small and short, a
 * few are large and long, as in web and RPC traffic.
 */
export function paretoBursts(random: () => number): number[] {
  const seconds = 3600;
  const extra = new Float64Array(seconds);
  let t = exponential(random, 240);
  while (t < seconds) {
    const height = Math.min(1500, pareto(random, 100, 1.5));
    const length = Math.min(300, Math.round(pareto(random, 15, 1.5)));
    for (let s = Math.floor(t); s < Math.min(seconds, Math.floor(t) + length); s++) extra[s] = (extra[s] as number) + height;
    t += exponential(random, 240);
  }
  return Array.from({ length: seconds }, (_, s) => round1((150 + (extra[s] as number)) * (1 + 0.1 * gaussian(random))));
}

/** Seconds in one day of the compressed weeks: 30× faster than real time, as the NASA trace. */
export const WEEK_DAY_SECONDS = 2880;

/**
 * Two weeks compressed 30× (one day in 2880 s, 40320 s in all), starting on a Monday: an office
 * API. Weekdays: a night floor of 40 rps, a morning rush from 08:00 to 09:30 up to 600 rps, a
 * lunch dip, an afternoon plateau, an evening decline back to the floor by 22:00; weekends: a
 * third of the weekday load with no rush. Each day's amplitude varies by ±10 %, and every second
 * has 6 % noise.
 */
export function week(random: () => number): number[] {
  const days = 14;
  const load: number[] = [];
  for (let day = 0; day < days; day++) {
    const weekend = day % 7 >= 5;
    const amplitude = (weekend ? 0.33 : 1) * (0.9 + 0.2 * random());
    for (let s = 0; s < WEEK_DAY_SECONDS; s++) {
      const hour = (s / WEEK_DAY_SECONDS) * 24;
      load.push(round1((40 + (600 - 40) * amplitude * officeShape(hour, weekend)) * (1 + 0.06 * gaussian(random))));
    }
  }
  return load;
}

/** The share of the weekday peak at this hour (0–1). */
function officeShape(hour: number, weekend: boolean): number {
  const ramp = (from: number, to: number) => Math.min(1, Math.max(0, (hour - from) / (to - from)));
  if (weekend) return 0.6 * ramp(9, 12) * (1 - ramp(18, 23));
  const early = 0.05 * ramp(6, 8);
  const morning = early + (1 - early) * ramp(8, 9.5);
  const lunchDip = hour >= 12 && hour < 13.5 ? 0.25 * Math.sin(((hour - 12) / 1.5) * Math.PI) : 0;
  return Math.max(0, morning * (1 - 0.2 * ramp(9.5, 11)) - lunchDip) * (1 - ramp(17, 22));
}

export const GENERATED_TRACES: Record<string, (random: () => number) => number[]> = {
  'flash-crowd.csv': flashCrowd,
  'on-off.csv': onOff,
  'pareto-bursts.csv': paretoBursts,
  'week.csv': week,
};

/** The CSV text of one generated trace; each trace has its own stream from the one seed. */
export function generatedCsv(file: string): string {
  const make = GENERATED_TRACES[file];
  if (!make) throw new Error(`no generator for ${file}`);
  const index = Object.keys(GENERATED_TRACES).indexOf(file);
  const rps = make(seededRandom(GENERATOR_SEED + index));
  return `t,rps\n${rps.map((r, t) => `${t},${r}`).join('\n')}\n`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'traces');
  for (const file of Object.keys(GENERATED_TRACES)) {
    writeFileSync(join(dir, file), generatedCsv(file));
    process.stdout.write(`wrote bench/traces/${file}\n`);
  }
}
