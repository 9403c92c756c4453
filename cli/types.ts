/** The API answers the CLI reads (the fields it uses; the API may send more). */

export interface AppSummary {
  name: string;
  status: string;
  mode: string | null;
  image: string | null;
  revision: number;
  replicas: { current: number; desired: number; healthy?: number };
  created_at: string | null;
  updated_at: string | null;
  last_scaled_at: string | null;
}

export interface AppList {
  apps: AppSummary[];
  total: number;
  running: number;
  stopped: number;
  scaled_to_zero?: number;
  error: number;
  next_cursor: string | null;
}

export interface Container {
  id: string;
  name: string;
  replica_index: number;
  ip: string;
  port: number;
  status: string;
  health: string;
  revision: number;
  started_at: string | null;
  last_health_check?: string | null;
  consecutive_failures?: number;
  cpu_percent?: number;
  memory_percent?: number;
}

export interface LatestMetrics {
  cpu_percent: number | null;
  memory_percent: number | null;
  rps: number | null;
  latency_p95_ms: number | null;
  active_connections: number | null;
  as_of?: string | null;
}

export interface AppDetail extends AppSummary {
  metrics: LatestMetrics;
  containers: Container[];
  health_checks_enabled?: boolean;
  last_wake?: { at: string; ready_seconds: number | null } | null;
}

export interface NotReady {
  replica_index: number;
  status: string;
  health: string | null;
  revision: number | null;
}

export interface ReplicaChange {
  message: string;
  app_name: string;
  previous_replicas: number;
  current_replicas: number;
  status: string;
  clamped?: { min_replicas: number; max_replicas: number };
  ready?: boolean;
  not_ready?: NotReady[];
}

export interface Event {
  id: number;
  type: string;
  category: string;
  severity: string;
  message: string;
  details: unknown;
  container_id: string | null;
  timestamp: string | null;
  app_name: string | null;
}

export interface EventPage {
  app_name: string | null;
  events: Event[];
  has_more: boolean;
  next_cursor: string | null;
}
