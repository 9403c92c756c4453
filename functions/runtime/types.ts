/**
 * What Orchestry needs from a container platform. Docker (local) and ECS Fargate (cloud)
 * implement it; the reconciler, the prober and the collector only ever see this.
 */

/** Everything needed to start one replica, already resolved from the app spec. */
export interface ContainerTemplate {
  image: string;
  /** The port the app listens on inside the container. */
  containerPort: number;
  /** CPU in millicores ("500m" → 500, "1" → 1000). */
  cpuMillis: number;
  memoryBytes: number;
  command?: string[] | undefined;
  args?: string[] | undefined;
  workingDir?: string | undefined;
  /** Plain environment values. */
  env: Record<string, string>;
  /** Environment variables whose values come from a secret store, by reference. */
  secrets: Array<{ name: string; ref: string }>;
  labels: Record<string, string>;
  /** How long a replica may take to exit after SIGTERM before it is killed. */
  stopGraceSeconds: number;
}

export interface StartReplicaRequest {
  app: string;
  revision: number;
  replicaIndex: number;
  template: ContainerTemplate;
}

export type ReplicaState = 'starting' | 'running' | 'stopping' | 'stopped' | 'error';

export interface ReplicaHandle {
  /** The runtime's own id: a Docker container id, an ECS task ARN. */
  id: string;
  /** Deterministic from app, replica index and revision. */
  name: string;
  app: string;
  replicaIndex: number;
  revision: number;
  /** Where Orchestry reaches the replica (a loopback address locally, the task IP on ECS). */
  ip: string;
  port: number;
  state: ReplicaState;
  startedAt: Date | null;
}

export interface ReplicaStats {
  /** Percent of the replica's own CPU limit (100 = the whole limit in use). */
  cpuPercent: number;
  /** Percent of the replica's memory limit. */
  memoryPercent: number;
  memoryBytes: number;
  at: Date;
}

export interface LogLine {
  at: Date | null;
  stream: 'stdout' | 'stderr';
  message: string;
  replicaId: string;
}

export interface RuntimeHealth {
  ok: boolean;
  kind: string;
  detail?: string | undefined;
}

export interface ContainerRuntime {
  readonly kind: 'docker' | 'ecs' | 'fake';
  /**
   * Start one replica and return where it is reached. Idempotent: a second call with the
   * same app, replica index and revision returns the replica the first one made.
   */
  start(req: StartReplicaRequest): Promise<ReplicaHandle>;
  /** Stop (SIGTERM, then kill after `graceSeconds`) and remove. Stopping a gone replica is not an error. */
  stop(replica: { id: string; app: string }, opts: { graceSeconds: number }): Promise<void>;
  /** What exists for an app, whether Orchestry's tables know it or not (for adoption). */
  list(app: string): Promise<ReplicaHandle[]>;
  stats(replica: { id: string; app: string }): Promise<ReplicaStats | null>;
  logs(replica: { id: string; app: string }, opts: { tail?: number | undefined; since?: Date | undefined }): Promise<LogLine[]>;
  /** Is the runtime itself reachable? */
  ping(): Promise<RuntimeHealth>;
  /**
   * Routing hooks for a load balancer that the runtime owns (the ALB on ECS): a replica
   * is added before it takes traffic and removed before it is stopped. The local router
   * reads the instances table instead, so Docker does nothing here.
   */
  addToRouting(app: string, replica: ReplicaHandle): Promise<void>;
  removeFromRouting(app: string, replica: ReplicaHandle): Promise<void>;
  /**
   * Scale to zero with a load balancer the runtime owns (ECS): the app's traffic goes to the
   * activator while it is at zero, and back to its replicas once one is healthy. Absent: the
   * local router is the activator and nothing needs to move.
   */
  routeTrafficTo?(app: string, to: 'activator' | 'replicas'): Promise<void>;
  /** A replica the load balancer finds healthy, for the activator to send a held request to. */
  readyAddress?(app: string): Promise<{ ip: string; port: number } | null>;
  /** Per-app resources the runtime keeps (ECS: target group and listener rule). */
  ensureApp(app: string): Promise<void>;
  removeApp(app: string): Promise<void>;
}
