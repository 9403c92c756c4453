import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start databases and containers; their own polls carry deadlines.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most integration time is spent waiting on Postgres, Docker and HTTP, not on the CPU:
    // three files at once on two cores finish the suite in far less time than one at a time
    // (vitest's default on two cores).
    maxWorkers: 3,
    env: {
      SST_TELEMETRY_DISABLED: '1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  },
});
