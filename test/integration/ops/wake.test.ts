import { eq } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { updateApp } from '../../../db/queries/applications.js';
import { applications } from '../../../db/schema.js';
import { registerApp, startApp } from '../../../functions/ops/apps.js';
import { recordWakeReady, wakeApp } from '../../../functions/ops/wake.js';
import { describeEachTarget } from '../../support/db.js';
import { appDoc, eventsOf, fakeDeps, liveSlots } from './helpers.js';

describeEachTarget(
  'wake from zero',
  (t) => {
    const appRow = async (name: string) => (await t.db.$primary.select().from(applications).where(eq(applications.name, name)))[0]!;
    /** An app as the scaler leaves it after idle_to_zero: desired 0, status scaled_to_zero. */
    const atZero = async (setup: ReturnType<typeof fakeDeps>, name: string) => {
      await registerApp(setup.deps, appDoc(name, { mode: 'auto', minReplicas: 0, drainSeconds: 0 }));
      await startApp(setup.deps, name, { replicas: 1 });
      await updateApp(t.db.$primary, name, { desiredReplicas: 0, status: 'scaled_to_zero' });
    };

    it('takes an app at zero to one replica now: status starting, a scaling event with reason activated, the reconciler run', async () => {
      const setup = fakeDeps(t.db);
      await atZero(setup, 'napper');
      setup.clock.advance(60);

      const answer = await wakeApp(setup.deps, 'napper', 'router');
      expect(answer).toMatchObject({ app_name: 'napper', woken: true, coming: true, status: 'starting' });
      expect(answer.woken_at?.getTime()).toBe(setup.clock.now().getTime());
      const row = await appRow('napper');
      expect(row).toMatchObject({ desiredReplicas: 1, lastWakeSeconds: null });
      expect(row.lastScaledAt?.getTime()).toBe(setup.clock.now().getTime());
      expect(setup.runtime.runningOf('napper')).toHaveLength(1);
      const activated = (await eventsOf(t.db, 'napper')).filter((e) => (e.details as { reason?: string } | null)?.reason === 'activated');
      expect(activated).toHaveLength(1);
      expect(activated[0]).toMatchObject({ eventType: 'scaling', source: 'router' });
      expect(activated[0]!.details).toMatchObject({ from: 0, to: 1, reason: 'activated', woken_by: 'router' });
    });

    it('is idempotent and safe twice at once: one wake, one event, one replica', async () => {
      const setup = fakeDeps(t.db);
      await atZero(setup, 'twice');

      const answers = await Promise.all([wakeApp(setup.deps, 'twice', 'router'), wakeApp(setup.deps, 'twice', 'activator')]);
      expect(answers.filter((a) => a.woken)).toHaveLength(1);
      expect(answers.every((a) => a.coming)).toBe(true);
      const again = await wakeApp(setup.deps, 'twice', 'router');
      expect(again).toMatchObject({ woken: false, coming: true });
      expect((await appRow('twice')).desiredReplicas).toBe(1);
      expect(await liveSlots(t.db, 'twice')).toHaveLength(1);
      const activated = (await eventsOf(t.db, 'twice')).filter((e) => (e.details as { reason?: string } | null)?.reason === 'activated');
      expect(activated).toHaveLength(1);
    });

    it('leaves a stopped app stopped: nothing is coming, nothing changes', async () => {
      const setup = fakeDeps(t.db);
      await registerApp(setup.deps, appDoc('stopped-one', { mode: 'auto', minReplicas: 0 }));
      const before = (await eventsOf(t.db, 'stopped-one')).length;
      expect(await wakeApp(setup.deps, 'stopped-one', 'router')).toMatchObject({ woken: false, coming: false, status: 'registered' });
      expect((await appRow('stopped-one')).desiredReplicas).toBe(0);
      expect((await eventsOf(t.db, 'stopped-one')).length).toBe(before);
      await expect(wakeApp(setup.deps, 'no-such-app', 'router')).rejects.toMatchObject({ code: 'APP_NOT_FOUND' });
    });

    it('records how long the wake took once, and only for that wake', async () => {
      const setup = fakeDeps(t.db);
      await atZero(setup, 'timed');
      const { woken_at } = await wakeApp(setup.deps, 'timed', 'router');
      await recordWakeReady(setup.deps, 'timed', woken_at!, new Date(woken_at!.getTime() + 1500));
      await recordWakeReady(setup.deps, 'timed', woken_at!, new Date(woken_at!.getTime() + 9000));
      await recordWakeReady(setup.deps, 'timed', new Date(0), new Date(woken_at!.getTime() + 9000));
      expect(await appRow('timed')).toMatchObject({ lastWakeSeconds: 1.5 });
    });
  },
  { targets: ['pglite', 'pg'] },
);
