/**
 * `npm run sim -- --frontier`: each scaler's cost/violation trade-off on a trace. HPA's target
 * (rps per pod) and Orchestry's `target_rps_per_replica` (the rest of the policy default) are
 * swept; every (replica-seconds, violation-seconds) point is kept, and each HPA point is checked
 * for an Orchestry point with no more of either.
 */
import { ruleBound } from './bounds.js';
import { SIM_POLICY } from '../../functions/core/sim/model.js';
import { OrchestryScaler } from '../../functions/core/sim/orchestry.js';
import { runScaler } from '../../functions/core/sim/run.js';
import { HpaScaler } from './scalers.js';
import { runOracle } from './simulate.js';
import type { Trace } from './trace.js';

/** HPA's target, rps per pod: 40 to 100 % of what one replica serves (100 rps). */
export const HPA_TARGETS = [40, 50, 60, 70, 80, 90, 100] as const;
/** Orchestry's target_rps_per_replica; 80 is the simulator's default. */
export const ORCHESTRY_TARGETS = [30, 40, 50, 60, 70, 80, 90, 100, 120] as const;

export interface FrontierPoint {
  target: number;
  replica_seconds: number;
  slo_violation_seconds: number;
}

export interface HpaPoint extends FrontierPoint {
  /** The Orchestry target with no more replica-seconds and no more violation seconds, if any. */
  dominated_by: number | null;
  /**
   * True when this point costs less than the rules bound of every Orchestry target swept: no
   * Orchestry point can be as cheap, so none can dominate it.
   */
  below_every_rules_bound: boolean;
}

export interface Frontier {
  trace: string;
  oracle_replica_seconds: number;
  hpa: HpaPoint[];
  orchestry: FrontierPoint[];
  /** HPA points dominated by some Orchestry point. */
  dominated: number;
  /** HPA points no Orchestry target can dominate (below_every_rules_bound). */
  undominatable: number;
}

export function frontier(trace: Trace): Frontier {
  const orchestry = ORCHESTRY_TARGETS.map((target) => {
    const run = runScaler(trace.rps, new OrchestryScaler({ ...SIM_POLICY, targetRpsPerReplica: target }));
    return { target, replica_seconds: run.replicaSeconds, slo_violation_seconds: run.sloViolationSeconds };
  });
  const cheapestRulesBound = Math.min(
    ...ORCHESTRY_TARGETS.map((target) => ruleBound(trace, { ...SIM_POLICY, targetRpsPerReplica: target }).bound_replica_seconds),
  );
  const hpa = HPA_TARGETS.map((target) => {
    const run = runScaler(trace.rps, new HpaScaler(target));
    const point = { target, replica_seconds: run.replicaSeconds, slo_violation_seconds: run.sloViolationSeconds };
    const by = orchestry
      .filter((o) => o.replica_seconds <= point.replica_seconds && o.slo_violation_seconds <= point.slo_violation_seconds)
      .sort((a, b) => a.replica_seconds - b.replica_seconds)[0];
    return { ...point, dominated_by: by?.target ?? null, below_every_rules_bound: point.replica_seconds < cheapestRulesBound };
  });
  return {
    trace: trace.name,
    oracle_replica_seconds: runOracle(trace).replicaSeconds,
    hpa,
    orchestry,
    dominated: hpa.filter((h) => h.dominated_by !== null).length,
    undominatable: hpa.filter((h) => h.below_every_rules_bound).length,
  };
}

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (x: number) => (Math.abs(x) >= 100 ? String(Math.round(x)) : String(Math.round(x * 100) / 100));

/**
 * The frontier as a standalone SVG: replica-seconds (× the oracle) across, violation seconds up
 * on a log(1 + v) scale (0 stays on the chart), one polyline per scaler in target order, each
 * point labelled with its target, the defaults (80) drawn larger.
 */
export function frontierSvg(f: Frontier): string {
  const width = 640;
  const height = 420;
  const m = { left: 64, right: 20, top: 78, bottom: 52 };
  const all = [...f.hpa, ...f.orchestry];
  const xs = all.map((p) => p.replica_seconds / f.oracle_replica_seconds);
  const xMin = Math.min(1, ...xs) * 0.95;
  const xMax = Math.max(...xs) * 1.05;
  const yOf = (v: number) => Math.log10(1 + v);
  const yMax = Math.max(1, ...all.map((p) => yOf(p.slo_violation_seconds))) * 1.08;
  const px = (ratio: number) => m.left + ((ratio - xMin) / (xMax - xMin)) * (width - m.left - m.right);
  const py = (v: number) => height - m.bottom - (yOf(v) / yMax) * (height - m.top - m.bottom);
  const lines: string[] = [];
  lines.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${esc(f.trace)}: cost against SLO violations, target swept</text>`,
  );
  // Axes with ticks.
  const xTicks = 6;
  for (let i = 0; i <= xTicks; i++) {
    const ratio = xMin + ((xMax - xMin) * i) / xTicks;
    const x = px(ratio);
    lines.push(
      `<line x1="${x}" y1="${height - m.bottom}" x2="${x}" y2="${m.top}" stroke="#eee"/>`,
      `<text x="${x}" y="${height - m.bottom + 16}" text-anchor="middle">${fmt(ratio)}</text>`,
    );
  }
  for (const v of [0, 1, 10, 100, 1000, 10000, 100000]) {
    if (yOf(v) > yMax) break;
    const y = py(v);
    lines.push(
      `<line x1="${m.left}" y1="${y}" x2="${width - m.right}" y2="${y}" stroke="#eee"/>`,
      `<text x="${m.left - 6}" y="${y + 4}" text-anchor="end">${v}</text>`,
    );
  }
  lines.push(
    `<line x1="${m.left}" y1="${height - m.bottom}" x2="${width - m.right}" y2="${height - m.bottom}" stroke="#333"/>`,
    `<line x1="${m.left}" y1="${height - m.bottom}" x2="${m.left}" y2="${m.top}" stroke="#333"/>`,
    `<text x="${(m.left + width - m.right) / 2}" y="${height - 14}" text-anchor="middle">replica-seconds × the oracle's</text>`,
    `<text transform="translate(16 ${(m.top + height - m.bottom) / 2}) rotate(-90)" text-anchor="middle">SLO-violation seconds (log scale)</text>`,
  );
  const series = [
    { name: 'HPA (rps per pod)', points: f.hpa, color: '#c0392b', shape: 'square' },
    { name: 'Orchestry (target_rps_per_replica)', points: f.orchestry, color: '#2e6bd1', shape: 'circle' },
  ] as const;
  series.forEach((s, index) => {
    const path = s.points.map((p) => `${px(p.replica_seconds / f.oracle_replica_seconds).toFixed(1)},${py(p.slo_violation_seconds).toFixed(1)}`).join(' ');
    lines.push(`<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="1.5" opacity="0.6"/>`);
    for (const p of s.points) {
      const x = px(p.replica_seconds / f.oracle_replica_seconds);
      const y = py(p.slo_violation_seconds);
      const r = p.target === 80 ? 5.5 : 3.5;
      const title = `<title>${esc(s.name)} ${p.target}: ${p.replica_seconds} replica-s, ${p.slo_violation_seconds} violation s</title>`;
      lines.push(
        s.shape === 'circle'
          ? `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${r}" fill="${s.color}">${title}</circle>`
          : `<rect x="${(x - r).toFixed(1)}" y="${(y - r).toFixed(1)}" width="${2 * r}" height="${2 * r}" fill="${s.color}">${title}</rect>`,
        `<text x="${(x + 7).toFixed(1)}" y="${(y - 6).toFixed(1)}" fill="${s.color}" font-size="9">${p.target}</text>`,
      );
    }
    const lx = m.left + index * 230;
    lines.push(
      `<rect x="${lx}" y="${34}" width="9" height="9" fill="${s.color}"/>`,
      `<text x="${lx + 14}" y="${42}">${esc(s.name)}</text>`,
    );
  });
  lines.push(
    `<text x="${m.left}" y="${60}" fill="#555">${f.dominated} of ${f.hpa.length} HPA points dominated by an Orchestry point; ${f.undominatable} cost less than every Orchestry target's rules bound</text>`,
    '</svg>',
  );
  return `${lines.join('\n')}\n`;
}
