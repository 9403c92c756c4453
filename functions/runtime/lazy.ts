/**
 * A runtime made when it is first used. The API Lambda answers reads such as GET /apps without
 * ever calling its runtime, and making the ECS runtime loads the AWS SDK, so functions/deps.ts
 * hands out this instead and makes the real one on the first call. A failure to make it is not
 * kept: the next call tries again.
 */
import type { ContainerRuntime, ReplicaHandle, StartReplicaRequest } from './types.js';

export class LazyRuntime implements ContainerRuntime {
  private made: Promise<ContainerRuntime> | undefined;

  constructor(
    readonly kind: ContainerRuntime['kind'],
    private readonly make: () => Promise<ContainerRuntime>,
  ) {}

  /** The real runtime, made once (and again only after a failure). */
  runtime(): Promise<ContainerRuntime> {
    if (!this.made) {
      const made = this.make();
      this.made = made;
      made.catch(() => {
        if (this.made === made) this.made = undefined;
      });
    }
    return this.made;
  }

  async start(req: StartReplicaRequest) {
    return (await this.runtime()).start(req);
  }
  async stop(replica: { id: string; app: string }, opts: { graceSeconds: number }) {
    return (await this.runtime()).stop(replica, opts);
  }
  async list(app: string) {
    return (await this.runtime()).list(app);
  }
  async stats(replica: { id: string; app: string }) {
    return (await this.runtime()).stats(replica);
  }
  async logs(replica: { id: string; app: string }, opts: { tail?: number | undefined; since?: Date | undefined }) {
    return (await this.runtime()).logs(replica, opts);
  }
  async ping() {
    return (await this.runtime()).ping();
  }
  async addToRouting(app: string, replica: ReplicaHandle) {
    return (await this.runtime()).addToRouting(app, replica);
  }
  async removeFromRouting(app: string, replica: ReplicaHandle) {
    return (await this.runtime()).removeFromRouting(app, replica);
  }
  async routeTrafficTo(app: string, to: 'activator' | 'replicas') {
    await (await this.runtime()).routeTrafficTo?.(app, to);
  }
  async readyAddress(app: string) {
    const runtime = await this.runtime();
    return runtime.readyAddress ? runtime.readyAddress(app) : null;
  }
  async ensureApp(app: string) {
    return (await this.runtime()).ensureApp(app);
  }
  async removeApp(app: string) {
    return (await this.runtime()).removeApp(app);
  }
}
