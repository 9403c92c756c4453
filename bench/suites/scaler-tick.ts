/**
 * scaler_tick_1k / scaler_tick_10k: one scaler run (functions/jobs/scaler.ts run(): the lease,
 * one set-based read of every app's inputs, decide() per app, one transaction of writes, the
 * job_runs row) over a fleet of 1,000 and 10,000 auto apps with 3 replicas each and a full
 * 60 s window of the five scaling metrics every 10 s, on local Postgres.
 *
 * The reference makes the same decisions the way a scaler without the set-based query would:
 * it lists the apps, then reads each app's inputs with its own query (the same SQL restricted
 * to one app, so the decisions are identical by construction, and checked to be), and writes
 * the results exactly as the tick does (batched: the comparison isolates how the inputs are
 * read, and is generous to the loop).
 *
 * Ticks alternate between the two at instants 10 s apart, so both see the same steady state:
 * every app has a decision already (the first tick, which writes one event per app, is a
 * warm-up) with five minutes of recommendations, the window is full, nothing changes count.
 */
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { queryRows } from '../../db/client.js';
import { scalerInputs, SCALABLE_STATUSES, type ScalingChange } from '../../db/queries/scaler.js';
import { DEFAULT_CONFIG, NoRuntime, type Deps } from '../../functions/deps.js';
import { runJob, type JobRunSummary } from '../../functions/jobs/job.js';
import type { ScalingDecision } from '../../functions/core/scaling.js';
import { decisionFor, recordDecisions, run as scalerRun, type Evaluated } from '../../functions/jobs/scaler.js';
import { silentLogger } from '../../functions/log.js';
import { openDb, recordStatements, withBenchDatabase, type RecordedStatement } from '../lib/db.js';
import { appendSamples, SAMPLE_PERIOD_SECONDS, seedFleet } from '../lib/seed.js';
import { msSince, ratioOf, round, spread } from '../lib/stats.js';
import type { BenchContext, Goal, Suite, SuiteName, SuiteResult } from '../lib/types.js';

const REPLICAS = 3;

interface Size {
  name: 'scaler_tick_1k' | 'scaler_tick_10k';
  apps: number;
  orchestryTicks: number;
  referenceTicks: number;
}

const SIZES: Size[] = [
  { name: 'scaler_tick_1k', apps: 1000, orchestryTicks: 8, referenceTicks: 2 },
  { name: 'scaler_tick_10k', apps: 10_000, orchestryTicks: 5, referenceTicks: 1 },
];
const TINY_SIZES: Size[] = [
  { name: 'scaler_tick_1k', apps: 10, orchestryTicks: 2, referenceTicks: 1 },
  { name: 'scaler_tick_10k', apps: 20, orchestryTicks: 2, referenceTicks: 1 },
];

/** The decisions of a tick, app by app, as compared between the two scalers. */
type DecisionMap = Map<string, Pick<ScalingDecision, 'reason' | 'desiredReplicas'>>;

/** The reference scaler: one query per app for its inputs, then the same writes as the tick. */
async function referenceTick(deps: Deps, now: Date, decisions: DecisionMap): Promise<JobRunSummary> {
  return runJob(deps, 'scaler', now, async () => {
    const names = await queryRows<{ name: string }>(
      deps.db.$primary,
      sql`SELECT name FROM applications
          WHERE mode = 'auto' AND status IN (${sql.join(SCALABLE_STATUSES.map((s) => sql`${s}`), sql`, `)}) AND desired_replicas > 0
          ORDER BY name`,
    );
    const evaluated: Evaluated[] = [];
    for (const { name } of names) {
      const [input] = await scalerInputs(deps.db.$primary, now, { app: name });
      if (!input) continue;
      const decision = decisionFor(input, now);
      decisions.set(input.appName, { reason: decision.reason, desiredReplicas: decision.desiredReplicas });
      evaluated.push({ input, decision });
    }
    const wanted: ScalingChange[] = evaluated
      .filter(({ decision }) => decision.desiredReplicas !== decision.currentReplicas)
      .map(({ input, decision }) => ({ appName: input.appName, from: decision.currentReplicas, to: decision.desiredReplicas }));
    const { events } = await recordDecisions(deps.db, evaluated, wanted, now);
    return { apps_evaluated: evaluated.length, scaled_out: 0, scaled_in: 0, changes_not_applied: wanted.length, events };
  });
}

/**
 * Each app's stored recommendations as after five minutes of ticks: one every 10 s over the
 * stabilization window (300 s), all equal to its latest. A fleet that has run a while carries
 * that history in every decision the tick reads and rewrites; the warm-up alone leaves one.
 */
async function fillRecommendationHistory(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`
      UPDATE scaling_decisions SET recommendations = (
        SELECT jsonb_agg(jsonb_build_object('at', evaluated_at - make_interval(secs => ${SAMPLE_PERIOD_SECONDS} * k),
                                            'replicas', (recommendations -> 0 ->> 'replicas')::int) ORDER BY k DESC)
        FROM generate_series(0, 29) k)`);
  } finally {
    await client.end();
  }
}

/** What the tick's set-based read decides at `now`, without writing anything. */
async function setBasedDecisions(deps: Deps, now: Date): Promise<DecisionMap> {
  const inputs = await scalerInputs(deps.db.$primary, now);
  return new Map(
    inputs.map((input) => {
      const d = decisionFor(input, now);
      return [input.appName, { reason: d.reason, desiredReplicas: d.desiredReplicas }];
    }),
  );
}

function sameDecisions(a: DecisionMap, b: DecisionMap): { same: boolean; differing: string[] } {
  const differing: string[] = [];
  for (const name of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(name);
    const y = b.get(name);
    if (!x || !y || x.reason !== y.reason || x.desiredReplicas !== y.desiredReplicas) differing.push(name);
  }
  return { same: differing.length === 0, differing: differing.slice(0, 5) };
}

interface TimedTick {
  ms: number;
  statements: RecordedStatement[];
  summary: JobRunSummary;
}

async function timed(body: () => Promise<JobRunSummary>): Promise<TimedTick> {
  const began = performance.now();
  const { result, statements } = await recordStatements(body);
  const ms = msSince(began);
  if (result.outcome !== 'succeeded') throw new Error(`scaler tick ${result.outcome}: ${result.error ?? 'held by another run'}`);
  return { ms, statements, summary: result };
}

/** The tick's time in SQL, split by what the statement does. */
function breakdown(statements: RecordedStatement[], totalMs: number) {
  const sum = (pick: (s: RecordedStatement) => boolean) => statements.filter(pick).reduce((t, s) => t + s.ms, 0);
  const read = sum((s) => s.text.includes('WITH apps AS'));
  const upsert = sum((s) => s.text.includes('INSERT INTO scaling_decisions'));
  const sqlMs = sum(() => true);
  return {
    read_inputs_ms: round(read, 3),
    upsert_decisions_ms: round(upsert, 3),
    other_sql_ms: round(sqlMs - read - upsert, 3),
    outside_sql_ms: round(Math.max(0, totalMs - sqlMs), 3),
  };
}

/** EXPLAIN ANALYZE of the set-based read as the tick sent it: where its time goes. */
async function explainRead(url: string, statement: RecordedStatement | undefined): Promise<Record<string, unknown> | null> {
  if (!statement) return null;
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode; 'Planning Time': number; 'Execution Time': number }> }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${statement.text}`,
      statement.values,
    );
    const [plan] = rows[0]!['QUERY PLAN'];
    const nodes: Array<{ node: string; relation?: string; index?: string; ms: number; rows: number }> = [];
    const walk = (n: PlanNode) => {
      nodes.push({
        node: n['Node Type'],
        ...(n['Relation Name'] ? { relation: n['Relation Name'] } : {}),
        ...(n['Index Name'] ? { index: n['Index Name'] } : {}),
        ms: round(n['Actual Total Time'] * (n['Actual Loops'] ?? 1), 3),
        rows: n['Actual Rows'] * (n['Actual Loops'] ?? 1),
      });
      for (const child of n.Plans ?? []) walk(child);
    };
    walk(plan!.Plan);
    return {
      planning_ms: round(plan!['Planning Time'], 3),
      execution_ms: round(plan!['Execution Time'], 3),
      scans: nodes.filter((n) => n.relation),
      slowest_nodes: [...nodes].sort((a, b) => b.ms - a.ms).slice(0, 6),
    };
  } finally {
    await client.end();
  }
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Total Time': number;
  'Actual Rows': number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

async function runSize(ctx: BenchContext, size: Size): Promise<SuiteResult> {
  return withBenchDatabase(ctx.serverUrl, size.name, async (database) => {
    // Ticks at whole 10 s instants from start: a warm-up, then the two scalers alternating.
    const start = new Date(Math.floor(Date.now() / 10_000) * 10_000);
    const tickAt = (i: number) => new Date(start.getTime() + i * SAMPLE_PERIOD_SECONDS * 1000);
    ctx.log(`${size.name}: seeding ${size.apps} apps`);
    const seedBegan = performance.now();
    const { samples } = await seedFleet(database.url, { apps: size.apps, replicas: REPLICAS, start });
    const seedSeconds = msSince(seedBegan) / 1000;

    const handle = await openDb(database.url);
    try {
      const deps: Deps = {
        db: handle.db,
        runtime: new NoRuntime('the scaler benchmark changes no replica count'),
        log: silentLogger,
        now: () => new Date(),
        config: structuredClone(DEFAULT_CONFIG),
      };
      let tick = 0;
      await scalerRun(deps, tickAt(tick++)); // warm-up: first decisions and events of every app
      await fillRecommendationHistory(database.url);

      // The order of the alternation: reference ticks spread among the Orchestry ones.
      const plan: Array<'orchestry' | 'reference'> = [];
      for (let i = 0; i < size.orchestryTicks; i++) {
        plan.push('orchestry');
        if (plan.filter((p) => p === 'reference').length < size.referenceTicks && (i + 1) % Math.ceil(size.orchestryTicks / size.referenceTicks) === 0) {
          plan.push('reference');
        }
      }
      while (plan.filter((p) => p === 'reference').length < size.referenceTicks) plan.push('reference');

      const orchestry: TimedTick[] = [];
      const reference: TimedTick[] = [];
      const mismatches: string[] = [];
      for (const which of plan) {
        const now = tickAt(tick++);
        await appendSamples(database.url, size.apps, now);
        if (which === 'orchestry') {
          orchestry.push(await timed(() => scalerRun(deps, now)));
        } else {
          const expected = await setBasedDecisions(deps, now);
          const made: DecisionMap = new Map();
          reference.push(await timed(() => referenceTick(deps, now, made)));
          const check = sameDecisions(expected, made);
          if (!check.same) mismatches.push(...check.differing);
        }
        ctx.log(`${size.name}: ${which} tick ${round((which === 'orchestry' ? orchestry : reference).at(-1)!.ms, 3)} ms`);
      }
      if (mismatches.length > 0) throw new Error(`the reference decided differently for ${mismatches.join(', ')}`);
      const changed = orchestry.filter((t) => (t.summary.counts.scaled_out ?? 0) + (t.summary.counts.scaled_in ?? 0) > 0).length;
      if (changed > 0) throw new Error(`${changed} ticks changed replica counts: the fleet is meant to hold steady`);

      const orchestryMs = orchestry.map((t) => t.ms);
      const referenceMs = reference.map((t) => t.ms);
      const statementCounts = [...new Set(orchestry.map((t) => t.statements.length))];
      const seconds = round(spread(orchestryMs).median / 1000, 4);
      const referenceSeconds = round(spread(referenceMs).median / 1000, 4);
      const middle = (ticks: TimedTick[]) => [...ticks].sort((a, b) => a.ms - b.ms)[Math.floor(ticks.length / 2)]!;
      const medianTick = middle(orchestry);
      const medianReference = middle(reference);
      const reasons: Record<string, number> = {};
      for (const decision of (await setBasedDecisions(deps, tickAt(tick - 1))).values()) reasons[decision.reason] = (reasons[decision.reason] ?? 0) + 1;

      const goals: Goal[] = [
        {
          goal: 'statements per tick the same at 1,000 and 10,000 apps',
          actual: `${statementCounts.join(', ')} statements per tick at ${size.apps} apps`,
          met: statementCounts.length === 1,
        },
        {
          goal: '>= 10x faster than the one-query-per-app loop',
          actual: `${round(referenceSeconds / seconds, 3)}x`,
          met: referenceSeconds / seconds >= 10,
        },
      ];
      if (size.name === 'scaler_tick_10k') {
        goals.unshift({ goal: '10,000 apps in <= 1 s per tick', actual: `${seconds} s`, met: seconds <= 1 });
      }
      return {
        orchestry: seconds,
        reference: referenceSeconds,
        unit: 's/tick',
        ratio: ratioOf(seconds, referenceSeconds),
        higher_is_better: false,
        orchestry_does: `scaler run(): one set-based read of ${size.apps} apps' inputs, decide() each, one write transaction`,
        reference_does: `list the apps, then one input query per app (${size.apps} queries), decide() each, the same writes`,
        goals,
        speedup: round(referenceSeconds / seconds, 4),
        apps: size.apps,
        replicas_per_app: REPLICAS,
        samples_in_table: samples,
        tick_ms: spread(orchestryMs),
        reference_tick_ms: spread(referenceMs),
        statements_per_tick: statementCounts.length === 1 ? statementCounts[0] : statementCounts,
        reference_statements_per_tick: reference[0]?.statements.length,
        decisions_identical: true,
        decision_reasons: reasons,
        median_tick_breakdown: breakdown(medianTick.statements, medianTick.ms),
        // The loop's reads summed: its writes are the tick's, so the reads alone show what the set-based query saves.
        reference_tick_breakdown: breakdown(medianReference.statements, medianReference.ms),
        read_speedup: round(breakdown(medianReference.statements, medianReference.ms).read_inputs_ms / breakdown(medianTick.statements, medianTick.ms).read_inputs_ms, 4),
        read_query_plan: await explainRead(database.url, medianTick.statements.find((s) => s.text.includes('WITH apps AS'))),
        seed_seconds: round(seedSeconds, 3),
      };
    } finally {
      await handle.close();
    }
  });
}

/** Both sizes' statement counts in one goal, once both ran. */
function compareStatementCounts(results: Partial<Record<SuiteName, SuiteResult>>): void {
  const small = results.scaler_tick_1k?.statements_per_tick;
  const large = results.scaler_tick_10k?.statements_per_tick;
  if (typeof small !== 'number' || typeof large !== 'number') return;
  for (const r of [results.scaler_tick_1k!, results.scaler_tick_10k!]) {
    const goal = r.goals.find((g) => g.goal.startsWith('statements per tick'))!;
    goal.actual = `${small} at ${results.scaler_tick_1k!.apps} apps, ${large} at ${results.scaler_tick_10k!.apps}`;
    goal.met = small === large;
  }
}

export const scalerTickSuite: Suite = {
  names: ['scaler_tick_1k', 'scaler_tick_10k'],
  async run(ctx, only) {
    const results: Partial<Record<SuiteName, SuiteResult>> = {};
    const failures: Partial<Record<SuiteName, unknown>> = {};
    for (const size of ctx.tiny ? TINY_SIZES : SIZES) {
      if (!only.has(size.name)) continue;
      try {
        results[size.name] = await runSize(ctx, size);
      } catch (e) {
        failures[size.name] = e;
      }
    }
    compareStatementCounts(results);
    return { results, failures };
  },
};
