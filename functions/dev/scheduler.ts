/**
 * The dev server's timers: what EventBridge schedules do in the cloud. Each task runs at its
 * period and never overlaps itself: the next run is due one period after the last one
 * started, and a run that takes longer than its period delays the next until it is done.
 * stop() cancels what is not due yet and waits for the runs in flight, so a shutdown never
 * cuts a job in half.
 */
import type { Logger } from '../log.js';

export interface PeriodicTask {
  name: string;
  periodMs: number;
  run: (now: Date) => Promise<unknown>;
  /** Run once at start instead of one period later (default true). */
  runAtStart?: boolean | undefined;
}

interface Slot {
  task: PeriodicTask;
  timer: NodeJS.Timeout | null;
  inFlight: Promise<void> | null;
}

export class Scheduler {
  private readonly slots: Slot[] = [];
  private stopping = false;

  constructor(
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  add(task: PeriodicTask): void {
    if (!(task.periodMs > 0)) throw new Error(`${task.name}: the period must be positive (got ${task.periodMs} ms)`);
    const slot: Slot = { task, timer: null, inFlight: null };
    this.slots.push(slot);
    this.schedule(slot, task.runAtStart === false ? task.periodMs : 0);
  }

  private schedule(slot: Slot, delayMs: number): void {
    if (this.stopping) return;
    slot.timer = setTimeout(() => {
      slot.timer = null;
      slot.inFlight = this.runOnce(slot).finally(() => {
        slot.inFlight = null;
      });
    }, Math.max(0, delayMs));
  }

  private async runOnce(slot: Slot): Promise<void> {
    const started = this.clock();
    try {
      await slot.task.run(new Date(started));
    } catch (error) {
      // Jobs record their own failures; what arrives here is the database itself failing.
      // The next run tries again.
      this.log.error('scheduled task failed', { task: slot.task.name, error: error instanceof Error ? error.message : String(error) });
    }
    const elapsed = this.clock() - started;
    if (elapsed > slot.task.periodMs) {
      this.log.warn('scheduled task ran longer than its period; the next run starts late', {
        task: slot.task.name,
        ms: elapsed,
        period_ms: slot.task.periodMs,
      });
    }
    this.schedule(slot, slot.task.periodMs - elapsed);
  }

  /** The tasks running right now. */
  running(): string[] {
    return this.slots.filter((slot) => slot.inFlight !== null).map((slot) => slot.task.name);
  }

  /** No new runs; resolves when every run in flight has finished. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const slot of this.slots) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = null;
    }
    await Promise.all(this.slots.map((slot) => slot.inFlight));
  }
}
