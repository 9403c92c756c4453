/**
 * The pass over every app that the health prober and the dev server run. Apart from ops/apps.ts
 * because that module validates specs users write (zod, YAML), which a scheduled job never
 * needs (infra/bundle-budgets.ts).
 */
import pLimit from 'p-limit';
import { appsToReconcile } from '../../db/queries/reconcile.js';
import type { OpsDeps } from './deps.js';
import { reconcile, type ReconcileResult } from './reconcile.js';

export interface ReconcileAllResult {
  results: ReconcileResult[];
  /** Apps whose reconcile threw (a database failure); the others still ran. */
  failed: Array<{ appName: string; error: string }>;
  /** The earliest time one of the apps can make progress. */
  nextCheckAt: Date | null;
}

/**
 * Reconciles every app with work to do (or, with `everyActive`, every app that wants or
 * has replicas, which also compares quiet apps with the runtime), a few at a time.
 */
export async function reconcileAll(
  deps: OpsDeps,
  now?: Date,
  options: { concurrency?: number | undefined; everyActive?: boolean | undefined } = {},
): Promise<ReconcileAllResult> {
  const names = await appsToReconcile(deps.db.$primary, { everyActive: options.everyActive });
  const limit = pLimit(options.concurrency ?? 4);
  const results: ReconcileResult[] = [];
  const failed: ReconcileAllResult['failed'] = [];
  await Promise.all(
    names.map((name) =>
      limit(async () => {
        try {
          results.push(await reconcile(deps, name, now));
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          deps.log.error('reconcile failed', { app: name, error: message });
          failed.push({ appName: name, error: message });
        }
      }),
    ),
  );
  const next = results.flatMap((r) => (r.nextCheckAt ? [r.nextCheckAt.getTime()] : []));
  return { results, failed, nextCheckAt: next.length > 0 ? new Date(Math.min(...next)) : null };
}
