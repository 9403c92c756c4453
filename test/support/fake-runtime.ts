/**
 * An in-memory ContainerRuntime for fast tests of everything above the runtime. It keeps the
 * real runtimes' contract (idempotent starts by deterministic name, stop of a gone replica is
 * not an error, list shows what exists whether anyone recorded it or not) and lets a test
 * play the runtime's bad days: containers vanishing or crashing behind Orchestry's back,
 * failing starts, slow starts held until the test releases them, an unreachable engine.
 *
 * Ids are deterministic (`fake1-000001`: the fake's number in this process, then a sequence),
 * host ports too (40001, ...).
 */
import { OrchestryError } from '../../functions/core/errors.js';
import { replicaName } from '../../functions/runtime/names.js';
import type {
  ContainerRuntime,
  ContainerTemplate,
  LogLine,
  ReplicaHandle,
  ReplicaState,
  ReplicaStats,
  RuntimeHealth,
  StartReplicaRequest,
} from '../../functions/runtime/types.js';

export interface FakeContainer extends ReplicaHandle {
  template: ContainerTemplate | null;
}

interface StartFailure {
  remaining: number;
  message: string;
  matches: (req: StartReplicaRequest) => boolean;
}

export interface FakeRuntimeOptions {
  /** Where `startedAt` comes from (the test's clock). */
  now?: (() => Date) | undefined;
  /** The state a new replica reports: `starting` plays an ECS task still provisioning. */
  startState?: 'running' | 'starting' | undefined;
}

let fakeRuntimes = 0;

export class FakeRuntime implements ContainerRuntime {
  readonly kind = 'fake' as const;
  /** Every call, by method, for assertions like "started each replica once". */
  readonly calls = { start: 0, stop: 0, list: 0, addToRouting: 0, removeFromRouting: 0, ensureApp: 0, removeApp: 0 };
  /** Containers made, by name, in creation order (a repeated name was made again). */
  readonly created: string[] = [];
  /** Stops that found a container, with the grace period asked for. */
  readonly stops: Array<{ id: string; name: string; graceSeconds: number }> = [];
  /** Container ids in each app's routing (what an ALB target group would hold). */
  readonly routing = new Map<string, Set<string>>();
  /** Apps whose runtime resources exist (ensureApp without removeApp). */
  readonly apps = new Set<string>();
  /** While set, list() throws this (an unreachable engine). */
  listFailure: Error | null = null;
  startState: 'running' | 'starting';

  private readonly containers = new Map<string, FakeContainer>();
  private readonly failures: StartFailure[] = [];
  private held: Array<() => void> | null = null;
  private seq = 0;
  /** Tells the ids of two fakes apart, as two engines' ids never collide (tests share a database). */
  private readonly instance = ++fakeRuntimes;
  private readonly now: () => Date;

  constructor(options: FakeRuntimeOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.startState = options.startState ?? 'running';
  }

  // -------------------------------------------------------------------------
  // The ContainerRuntime contract
  // -------------------------------------------------------------------------

  async start(req: StartReplicaRequest): Promise<ReplicaHandle> {
    this.calls.start++;
    // Yield so that concurrent callers interleave as they would around a real engine.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.held) await new Promise<void>((resolve) => this.held!.push(resolve));
    const failure = this.failures.find((f) => f.remaining > 0 && f.matches(req));
    if (failure) {
      failure.remaining--;
      throw new OrchestryError('RUNTIME_ERROR', failure.message, { app: req.app, replica_index: req.replicaIndex });
    }
    const name = replicaName(req.app, req.replicaIndex, req.revision);
    const existing = this.byName(name);
    if (existing) {
      // Docker starts an exited container of the same name again rather than making another.
      if (existing.state !== 'running' && existing.state !== 'starting') {
        existing.state = this.startState;
        existing.startedAt = this.now();
      }
      return this.copy(existing);
    }
    this.seq++;
    const container: FakeContainer = {
      id: this.nextId(),
      name,
      app: req.app,
      replicaIndex: req.replicaIndex,
      revision: req.revision,
      ip: '127.0.0.1',
      port: 40_000 + this.seq,
      state: this.startState,
      startedAt: this.now(),
      template: req.template,
    };
    this.containers.set(container.id, container);
    this.created.push(name);
    return this.copy(container);
  }

  async stop(replica: { id: string; app: string }, opts: { graceSeconds: number }): Promise<void> {
    this.calls.stop++;
    await new Promise<void>((resolve) => setImmediate(resolve));
    const container = this.containers.get(replica.id) ?? this.byName(replica.id);
    if (!container) return;
    if (container.app !== replica.app) {
      throw new OrchestryError('RUNTIME_ERROR', `Container ${container.name} is not a replica of app '${replica.app}'`);
    }
    this.containers.delete(container.id);
    this.routing.get(container.app)?.delete(container.id);
    this.stops.push({ id: container.id, name: container.name, graceSeconds: opts.graceSeconds });
  }

  async list(app: string): Promise<ReplicaHandle[]> {
    this.calls.list++;
    if (this.listFailure) throw this.listFailure;
    return [...this.containers.values()]
      .filter((c) => c.app === app)
      .sort((a, b) => a.replicaIndex - b.replicaIndex || a.revision - b.revision)
      .map((c) => this.copy(c));
  }

  async stats(replica: { id: string; app: string }): Promise<ReplicaStats | null> {
    const container = this.containers.get(replica.id);
    if (!container || container.state !== 'running') return null;
    return { cpuPercent: 10, memoryPercent: 20, memoryBytes: 64 * 1024 * 1024, at: this.now() };
  }

  async logs(replica: { id: string; app: string }): Promise<LogLine[]> {
    const container = this.containers.get(replica.id);
    if (!container) return [];
    return [{ at: container.startedAt, stream: 'stdout', message: `${container.name} started`, replicaId: container.id }];
  }

  async ping(): Promise<RuntimeHealth> {
    return this.listFailure ? { ok: false, kind: 'fake', detail: this.listFailure.message } : { ok: true, kind: 'fake' };
  }

  async addToRouting(app: string, replica: ReplicaHandle): Promise<void> {
    this.calls.addToRouting++;
    let routed = this.routing.get(app);
    if (!routed) this.routing.set(app, (routed = new Set()));
    routed.add(replica.id);
  }

  async removeFromRouting(app: string, replica: ReplicaHandle): Promise<void> {
    this.calls.removeFromRouting++;
    this.routing.get(app)?.delete(replica.id);
  }

  async ensureApp(app: string): Promise<void> {
    this.calls.ensureApp++;
    this.apps.add(app);
  }

  async removeApp(app: string): Promise<void> {
    this.calls.removeApp++;
    this.apps.delete(app);
    this.routing.delete(app);
  }

  // -------------------------------------------------------------------------
  // What a test does to it
  // -------------------------------------------------------------------------

  /** The app's containers as the runtime has them (any state). */
  containersOf(app: string): FakeContainer[] {
    return [...this.containers.values()].filter((c) => c.app === app).sort((a, b) => a.replicaIndex - b.replicaIndex);
  }

  /** The app's running containers. */
  runningOf(app: string): FakeContainer[] {
    return this.containersOf(app).filter((c) => c.state === 'running');
  }

  /** How many times a container of this name was made. */
  creationsOf(name: string): number {
    return this.created.filter((n) => n === name).length;
  }

  /** Removes a container behind Orchestry's back (docker rm -f, a task killed). */
  vanish(idOrName: string): void {
    const container = this.find(idOrName);
    this.containers.delete(container.id);
  }

  /** The container exits but stays listed (a crash). */
  crash(idOrName: string, state: ReplicaState = 'error'): void {
    this.find(idOrName).state = state;
  }

  /** A replica-provisioning container (startState 'starting') comes up. */
  promote(idOrName: string): void {
    this.find(idOrName).state = 'running';
  }

  /** Puts a container there as if something else (an earlier process, a person) had made it. */
  inject(handle: { app: string; replicaIndex: number; revision: number; state?: ReplicaState | undefined }): ReplicaHandle {
    this.seq++;
    const container: FakeContainer = {
      id: this.nextId(),
      name: replicaName(handle.app, handle.replicaIndex, handle.revision),
      app: handle.app,
      replicaIndex: handle.replicaIndex,
      revision: handle.revision,
      ip: '127.0.0.1',
      port: 40_000 + this.seq,
      state: handle.state ?? 'running',
      startedAt: this.now(),
      template: null,
    };
    this.containers.set(container.id, container);
    return this.copy(container);
  }

  /** The next `count` starts matching `matches` (default: any) fail with `message`. */
  failStarts(count: number, message = 'simulated start failure', matches: (req: StartReplicaRequest) => boolean = () => true): void {
    this.failures.push({ remaining: count, message, matches });
  }

  /** Starts wait until release() (slow starts); `waiting` says how many are held. */
  holdStarts(): { readonly waiting: number; release(): void } {
    const held: Array<() => void> = [];
    this.held = held;
    return {
      get waiting() {
        return held.length;
      },
      release: () => {
        if (this.held === held) this.held = null;
        for (const resume of held.splice(0)) resume();
      },
    };
  }

  private nextId(): string {
    return `fake${this.instance}-${String(this.seq).padStart(6, '0')}`;
  }

  private byName(name: string): FakeContainer | undefined {
    return [...this.containers.values()].find((c) => c.name === name);
  }

  private find(idOrName: string): FakeContainer {
    const container = this.containers.get(idOrName) ?? this.byName(idOrName);
    if (!container) throw new Error(`no fake container ${idOrName}`);
    return container;
  }

  private copy(container: FakeContainer): ReplicaHandle {
    const { template: _template, ...handle } = container;
    return { ...handle };
  }
}
