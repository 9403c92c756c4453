/**
 * Deterministic names and labels for replicas, shared by the Docker and ECS runtimes. A retried
 * or concurrent start computes the same name, so it finds (and adopts) what the first one made.
 */
import { OrchestryError } from '../core/errors.js';

export const LABELS = {
  app: 'orchestry.app',
  replica: 'orchestry.replica',
  revision: 'orchestry.revision',
  /** The port the app listens on inside the container, so a listing knows which mapping is the app's. */
  containerPort: 'orchestry.port',
  /** Marks what Orchestry created: it never adopts, stops or lists anything without it. */
  managed: 'orchestry.managed',
} as const;

const NAME_PREFIX = 'orchestry-';
const APP_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const REPLICA_NAME = /^orchestry-([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)-r(\d+)-v(\d+)$/;

export interface ReplicaIdentity {
  app: string;
  replicaIndex: number;
  revision: number;
}

function checkIdentity({ app, replicaIndex, revision }: ReplicaIdentity): void {
  const issues: string[] = [];
  if (!APP_NAME.test(app)) issues.push(`app '${app}' must be a DNS label: lowercase letters, digits and '-', at most 63`);
  if (!Number.isSafeInteger(replicaIndex) || replicaIndex < 0) issues.push(`replicaIndex ${replicaIndex} must be an integer >= 0`);
  if (!Number.isSafeInteger(revision) || revision < 1) issues.push(`revision ${revision} must be an integer >= 1`);
  if (issues.length > 0) {
    throw new OrchestryError('VALIDATION_ERROR', `Invalid replica identity: ${issues.join('; ')}`, { app, replicaIndex, revision });
  }
}

/** `orchestry-<app>-r<index>-v<revision>`, e.g. `orchestry-user-api-r0-v3`. */
export function replicaName(app: string, replicaIndex: number, revision: number): string {
  checkIdentity({ app, replicaIndex, revision });
  return `${NAME_PREFIX}${app}-r${replicaIndex}-v${revision}`;
}

/** The identity inside a replica name, or null when the name is not one Orchestry makes. */
export function parseReplicaName(name: string): ReplicaIdentity | null {
  const match = REPLICA_NAME.exec(name.replace(/^\//, ''));
  if (!match) return null;
  const [, app, index, revision] = match;
  const identity = { app: app!, replicaIndex: Number(index), revision: Number(revision) };
  return Number.isSafeInteger(identity.replicaIndex) && Number.isSafeInteger(identity.revision) && identity.revision >= 1
    ? identity
    : null;
}

/** The labels that identify a replica; they win over any template label of the same key. */
export function replicaLabels(app: string, replicaIndex: number, revision: number, containerPort: number): Record<string, string> {
  checkIdentity({ app, replicaIndex, revision });
  return {
    [LABELS.app]: app,
    [LABELS.replica]: String(replicaIndex),
    [LABELS.revision]: String(revision),
    [LABELS.containerPort]: String(containerPort),
    [LABELS.managed]: 'true',
  };
}

/** The identity recorded in a replica's labels, or null when they are missing or malformed. */
export function identityFromLabels(labels: Record<string, string> | undefined): ReplicaIdentity | null {
  if (!labels || labels[LABELS.managed] !== 'true') return null;
  const app = labels[LABELS.app] ?? '';
  const index = labels[LABELS.replica] ?? '';
  const revision = labels[LABELS.revision] ?? '';
  if (!APP_NAME.test(app) || !/^\d{1,9}$/.test(index) || !/^\d{1,9}$/.test(revision) || Number(revision) < 1) return null;
  return { app, replicaIndex: Number(index), revision: Number(revision) };
}
