/** Records → the API's shapes: snake_case fields, ISO 8601 timestamps. */
import type { Application, Event, Instance, ScalingPolicy } from '../schema.js';
import type { AppListItem } from './applications.js';

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** The image of a stored spec, wherever the document nests it. */
function specImage(spec: unknown): string | null {
  const inner = (spec as { spec?: { image?: unknown } } | null)?.spec;
  return typeof inner?.image === 'string' ? inner.image : null;
}

export function appToApi(app: Application) {
  return {
    name: app.name,
    status: app.status,
    mode: app.mode,
    image: specImage(app.spec),
    revision: app.revision,
    replicas: { current: app.replicas ?? 0, desired: app.desiredReplicas ?? 0 },
    created_at: iso(app.createdAt),
    updated_at: iso(app.updatedAt),
    last_scaled_at: iso(app.lastScaledAt),
  };
}

/** A row of GET /apps. */
export function appSummaryToApi(app: AppListItem) {
  return {
    name: app.name,
    status: app.status,
    mode: app.mode,
    image: app.image,
    revision: app.revision,
    replicas: { current: app.runningReplicas, desired: app.desiredReplicas, healthy: app.readyReplicas },
    created_at: iso(app.createdAt),
    updated_at: iso(app.updatedAt),
    last_scaled_at: iso(app.lastScaledAt),
  };
}

export function instanceToApi(instance: Instance) {
  return {
    id: instance.containerId,
    name: instance.containerName,
    replica_index: instance.replicaIndex,
    ip: instance.ip,
    port: instance.port,
    status: instance.status,
    health: instance.healthStatus ?? 'unknown',
    revision: instance.revision,
    started_at: iso(instance.startedAt),
    last_health_check: iso(instance.lastHealthCheck),
    failure_count: instance.failureCount ?? 0,
    consecutive_failures: instance.consecutiveFailures ?? 0,
    cpu_percent: instance.cpuPercent ?? 0,
    memory_percent: instance.memoryPercent ?? 0,
    memory_usage_bytes: instance.memoryUsageBytes ?? 0,
  };
}

export function eventToApi(event: Event) {
  return {
    id: event.id,
    type: event.eventType,
    category: event.eventCategory,
    severity: event.severity ?? 'info',
    message: event.message,
    details: event.details ?? null,
    container_id: event.containerId,
    timestamp: iso(event.timestamp),
    app_name: event.appName,
    source: event.source,
    node_id: event.nodeId,
  };
}

/** Every column of the policy but its timestamps. */
export function policyToApi(policy: ScalingPolicy) {
  return {
    app_name: policy.appName,
    min_replicas: policy.minReplicas,
    max_replicas: policy.maxReplicas,
    target_rps_per_replica: policy.targetRpsPerReplica,
    max_p95_latency_ms: policy.maxP95LatencyMs,
    max_cpu_percent: policy.maxCpuPercent,
    max_memory_percent: policy.maxMemoryPercent,
    max_connections_per_replica: policy.maxConnectionsPerReplica,
    scale_out_threshold_pct: policy.scaleOutThresholdPct,
    scale_in_threshold_pct: policy.scaleInThresholdPct,
    cooldown_seconds: policy.cooldownSeconds,
    evaluation_window_seconds: policy.evaluationWindowSeconds,
    max_scale_out_step: policy.maxScaleOutStep,
    max_scale_in_step: policy.maxScaleInStep,
    stabilization_window_seconds: policy.stabilizationWindowSeconds,
    cpu_weight: policy.cpuWeight,
    memory_weight: policy.memoryWeight,
    rps_weight: policy.rpsWeight,
    latency_weight: policy.latencyWeight,
    connection_weight: policy.connectionWeight,
    scale_to_zero_after_seconds: policy.scaleToZeroAfterSeconds,
  };
}

export type AppApi = ReturnType<typeof appToApi>;
export type InstanceApi = ReturnType<typeof instanceToApi>;
export type EventApi = ReturnType<typeof eventToApi>;
export type PolicyApi = ReturnType<typeof policyToApi>;
