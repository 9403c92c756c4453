/** Shared by the data-layer tests. */
import { expect } from 'vitest';
import { OrchestryError } from '../../../functions/core/errors.js';

/** The OrchestryError a promise rejects with (fails the test when it resolves or rejects otherwise). */
export async function rejection(promise: Promise<unknown>): Promise<OrchestryError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OrchestryError);
  return error as OrchestryError;
}

export const spec = (image: string) => ({ apiVersion: 'v1', kind: 'App', metadata: { name: 'x' }, spec: { image } });
