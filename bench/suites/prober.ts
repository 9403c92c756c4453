/**
 * prober_pass: one health-prober run (functions/jobs/health-prober.ts run(): the lease, the
 * due replicas, HTTP probes at most PROBE_CONCURRENCY at once, one transaction of results,
 * events and response_time samples, the reconcile check) over 1,000 replicas whose checks hit
 * 1,000 loopback HTTP servers: 10% slow (200 after 1 s, inside the 2 s timeout), 10% failing
 * (half 503, half refusing connections), the rest answering at once.
 *
 * The reference is the same run with unbounded concurrency: every probe in flight at once.
 * Passes alternate, 10 s apart, each starting from the same health state (failures reset),
 * so that no replica crosses its failure threshold and no replacement is attempted.
 */
import pg from 'pg';
import { DEFAULT_CONFIG, NoRuntime, type Deps } from '../../functions/deps.js';
import { PROBE_CONCURRENCY, run as proberRun } from '../../functions/jobs/health-prober.js';
import type { JobRunSummary } from '../../functions/jobs/job.js';
import { silentLogger } from '../../functions/log.js';
import { openDb, withBenchDatabase } from '../lib/db.js';
import { SLOW_MS, startTargets, type Target } from '../lib/probe-targets.js';
import { median, msSince, ratioOf, round, spread } from '../lib/stats.js';
import type { BenchContext, Suite } from '../lib/types.js';

const SIZES = { targets: 1000, replicasPerApp: 10, passes: 5 };
const TINY = { targets: 20, replicasPerApp: 10, passes: 1 };
const TIMEOUT_SECONDS = 2;

async function seedReplicas(url: string, targets: Target[], replicasPerApp: number, start: Date): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  const apps = Math.ceil(targets.length / replicasPerApp);
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO applications (name, spec, status, replicas, desired_replicas, mode)
       SELECT 'probed-' || lpad(g::text, 4, '0'),
         jsonb_build_object('apiVersion', 'v1', 'kind', 'App', 'metadata', jsonb_build_object('name', 'probed-' || lpad(g::text, 4, '0')),
           'spec', jsonb_build_object('type', 'http', 'image', 'registry.example.com/web:1',
             'ports', jsonb_build_array(jsonb_build_object('containerPort', 8080, 'protocol', 'HTTP')))),
         'running', $2::int, $2::int, 'manual'
       FROM generate_series(1, $1::int) g`,
      [apps, replicasPerApp],
    );
    await client.query(
      `INSERT INTO health_checks (app_name, protocol, path, port, method, expected_status_codes, initial_delay_seconds,
                                  period_seconds, timeout_seconds, failure_threshold, success_threshold)
       SELECT 'probed-' || lpad(g::text, 4, '0'), 'HTTP', '/health', 8080, 'GET', ARRAY[200], 0, 10, $2::int, 3, 1
       FROM generate_series(1, $1::int) g`,
      [apps, TIMEOUT_SECONDS],
    );
    // Replica i of the fleet is the i-th target: app i / replicasPerApp, index i % replicasPerApp.
    await client.query(
      `INSERT INTO instances (app_name, container_id, container_name, replica_index, ip, port, status, health_status,
                              started_at, consecutive_successes)
       SELECT 'probed-' || lpad((i / $2::int + 1)::text, 4, '0'), 'probed-' || i, 'orchestry-probed-' || i,
         i % $2::int, '127.0.0.1', t.port, 'running', 'healthy', $3::timestamptz - interval '1 hour', 5
       FROM unnest($1::int[]) WITH ORDINALITY AS t(port, n), LATERAL (SELECT (t.n - 1)::int AS i) AS x`,
      [targets.map((t) => t.port), replicasPerApp, start.toISOString()],
    );
    await client.query('COMMIT');
    await client.query('VACUUM ANALYZE');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    await client.end();
  }
}

/** Every replica healthy again with no failures counted: each pass starts from the same state. */
async function resetHealth(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`UPDATE instances SET health_status = 'healthy', consecutive_failures = 0, consecutive_successes = 5`);
  } finally {
    await client.end();
  }
}

interface Pass {
  ms: number;
  summary: JobRunSummary;
}

async function timedPass(deps: Deps, now: Date, concurrency?: number): Promise<Pass> {
  const began = performance.now();
  const summary = await proberRun(deps, now, concurrency === undefined ? {} : { concurrency });
  const ms = msSince(began);
  if (summary.outcome !== 'succeeded') throw new Error(`prober run ${summary.outcome}: ${summary.error ?? 'held by another run'}`);
  return { ms, summary };
}

export const proberSuite: Suite = {
  names: ['prober_pass'],
  async run(ctx: BenchContext) {
    const size = ctx.tiny ? TINY : SIZES;
    const host = await startTargets(size.targets);
    try {
      return await withBenchDatabase(ctx.serverUrl, 'prober', async (database) => {
        const start = new Date(Math.floor(Date.now() / 10_000) * 10_000);
        await seedReplicas(database.url, host.targets, size.replicasPerApp, start);
        const handle = await openDb(database.url);
        try {
          const deps: Deps = {
            db: handle.db,
            runtime: new NoRuntime('the prober benchmark replaces no replica'),
            log: silentLogger,
            now: () => new Date(),
            config: structuredClone(DEFAULT_CONFIG),
          };
          let pass = 0;
          const at = () => new Date(start.getTime() + pass++ * 10_000);
          // Warm-up: connection pools, JIT of the code paths.
          await timedPass(deps, at(), Number.POSITIVE_INFINITY);
          const bounded: Pass[] = [];
          const unbounded: Pass[] = [];
          for (let i = 0; i < size.passes; i++) {
            await resetHealth(database.url);
            bounded.push(await timedPass(deps, at()));
            await resetHealth(database.url);
            unbounded.push(await timedPass(deps, at(), Number.POSITIVE_INFINITY));
            ctx.log(`prober_pass: ${round(bounded.at(-1)!.ms, 3)} ms bounded, ${round(unbounded.at(-1)!.ms, 3)} ms unbounded`);
          }
          for (const p of [...bounded, ...unbounded]) {
            if (p.summary.counts.probes !== size.targets) throw new Error(`a pass probed ${p.summary.counts.probes} of ${size.targets} replicas`);
          }
          const seconds = round(median(bounded.map((p) => p.ms)) / 1000, 4);
          const referenceSeconds = round(median(unbounded.map((p) => p.ms)) / 1000, 4);
          const kinds: Record<string, number> = {};
          for (const t of host.targets) kinds[t.kind] = (kinds[t.kind] ?? 0) + 1;
          return {
            results: {
              prober_pass: {
                orchestry: seconds,
                reference: referenceSeconds,
                unit: 's/pass',
                ratio: ratioOf(seconds, referenceSeconds),
                higher_is_better: false,
                orchestry_does: `prober run() over ${size.targets} replicas, at most ${PROBE_CONCURRENCY} probes at once`,
                reference_does: 'the same run with every probe in flight at once',
                goals: [{ goal: 'one pass <= 2 s', actual: `${seconds} s`, met: seconds <= 2 }],
                probe_concurrency: PROBE_CONCURRENCY,
                targets: kinds,
                slow_ms: SLOW_MS,
                timeout_seconds: TIMEOUT_SECONDS,
                probes_failed_per_pass: bounded[0]!.summary.counts.probes_failed,
                pass_ms: spread(bounded.map((p) => p.ms)),
                reference_pass_ms: spread(unbounded.map((p) => p.ms)),
                // The floor any bounded pass has: the slow probes alone, PROBE_CONCURRENCY at a time.
                slow_probes_floor_seconds: round((kinds.slow ?? 0) / PROBE_CONCURRENCY * (SLOW_MS / 1000), 4),
              },
            },
          };
        } finally {
          await handle.close();
        }
      });
    } finally {
      await host.stop();
    }
  },
};
