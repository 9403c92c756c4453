/**
 * Everything a test needs to use the real Docker engine: whether it is there, the test image
 * (test/fixtures/image, built with nothing pulled), cleanup by label, and a describe() that
 * skips without an engine locally but fails in CI, where an engine is required.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, stat, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { describe, it } from 'vitest';

export const TEST_IMAGE = 'orchestry-test:latest';
/** Every Docker resource a test creates carries this label, so cleanup can find it. */
export const TEST_LABEL_KEY = 'orchestry.test';
export const TEST_LABELS: Record<string, string> = { [TEST_LABEL_KEY]: '1' };
export const TEST_LABEL_FILTER = `${TEST_LABEL_KEY}=1`;

const IMAGE_HASH_LABEL = 'orchestry.test.image-hash';
const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/image/', import.meta.url));
const BUSYBOX_PATH = process.env.ORCHESTRY_BUSYBOX ?? '/bin/busybox';

export interface DockerAvailability {
  available: boolean;
  /** Why the engine cannot be used, when it cannot. */
  reason?: string | undefined;
  version?: string | undefined;
}

export async function dockerAvailable(docker: Docker = new Docker()): Promise<DockerAvailability> {
  try {
    const version = await docker.version();
    return { available: true, version: `${version.Version} (API ${version.ApiVersion})` };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { available: false, reason: `no Docker engine reachable (${why}); start dockerd or set DOCKER_HOST` };
  }
}

/** Probed once per test file, when the first describeDocker() is declared. */
const engine = await dockerAvailable();

/**
 * describe() for suites that need the engine. Without one they are skipped with the reason,
 * except when CI=true: there a missing engine is a failure, never a silent skip.
 */
export function describeDocker(name: string, suite: () => void): void {
  if (engine.available) {
    describe(name, suite);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs a Docker engine (CI=true)', () => {
        throw new Error(`Docker is required in CI: ${engine.reason}`);
      });
    });
  } else {
    console.warn(`[skip] ${name}: ${engine.reason}`);
    describe.skip(`${name} (skipped: ${engine.reason})`, suite);
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

/** Changes to any fixture file, its executable bit, or busybox itself give a new hash. */
async function contextHash(files: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) {
    const path = join(FIXTURE_DIR, file);
    const { mode } = await stat(path);
    hash.update(`${file}\0${mode & 0o111 ? 'x' : '-'}\0`);
    hash.update(await readFile(path));
  }
  hash.update('busybox\0');
  hash.update(await readFile(BUSYBOX_PATH));
  return hash.digest('hex');
}

async function existingImageHash(docker: Docker, tag: string): Promise<string | undefined> {
  try {
    const info = await docker.getImage(tag).inspect();
    return info.Config?.Labels?.[IMAGE_HASH_LABEL];
  } catch {
    return undefined;
  }
}

/**
 * Builds test/fixtures/image as `tag` with the host's static busybox copied into the context
 * (Docker cannot COPY from outside it). Skips the build when an image with the same content
 * hash is already there, so calling it from every test file costs one inspect.
 */
export async function buildTestImage(tag: string = TEST_IMAGE, docker: Docker = new Docker()): Promise<string> {
  const files = await listFiles(FIXTURE_DIR);
  const hash = await contextHash(files);
  if ((await existingImageHash(docker, tag)) === hash) return tag;

  const context = await mkdtemp(join(tmpdir(), 'orchestry-test-image-'));
  try {
    await cp(FIXTURE_DIR, context, { recursive: true });
    await copyFile(BUSYBOX_PATH, join(context, 'busybox'));
    const stream = await docker.buildImage(
      { context, src: ['busybox', ...files] },
      // Not TEST_LABELS: containers inherit image labels, and a test cleaning up by
      // orchestry.test=1 must not catch the containers of test files running beside it.
      { t: tag, labels: { [IMAGE_HASH_LABEL]: hash }, rm: true, forcerm: true },
    );
    const output = await new Promise<Array<{ error?: string; stream?: string }>>((resolve, reject) => {
      docker.modem.followProgress(stream, (error: Error | null, result: Array<{ error?: string }>) =>
        error ? reject(error) : resolve(result),
      );
    });
    const failure = output.find((event) => event.error);
    if (failure) {
      const log = output.map((event) => event.stream ?? event.error ?? '').join('');
      throw new Error(`building ${tag} from ${FIXTURE_DIR} failed: ${failure.error}\n${log}`);
    }
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  if ((await existingImageHash(docker, tag)) !== hash) {
    throw new Error(`building ${tag} finished but the image does not carry ${IMAGE_HASH_LABEL}=${hash}`);
  }
  return tag;
}

/**
 * An app name no other test file (or earlier run) uses, so a test can clean up exactly its own
 * containers with removeContainersByLabel(`orchestry.app=${app}`) while other files run beside it.
 */
export function uniqueTestApp(prefix: string): string {
  const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  return `t-${prefix}-${suffix}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40);
}

/** Force-removes every container (running or not) carrying `label` ("key" or "key=value"). */
export async function removeContainersByLabel(label: string, docker: Docker = new Docker()): Promise<number> {
  const containers = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(
    containers.map(async (container) => {
      try {
        await docker.getContainer(container.Id).remove({ force: true, v: true });
      } catch (error) {
        // Another cleanup (or the runtime itself) may have removed it first.
        if ((error as { statusCode?: number }).statusCode !== 404) throw error;
      }
    }),
  );
  return containers.length;
}

/** Removes networks carrying `label`; networks still in use by containers fail loudly. */
export async function removeNetworksByLabel(label: string, docker: Docker = new Docker()): Promise<number> {
  const networks = await docker.listNetworks({ filters: { label: [label] } });
  await Promise.all(
    networks.map(async (network) => {
      try {
        await docker.getNetwork(network.Id).remove();
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 404) throw error;
      }
    }),
  );
  return networks.length;
}
