import type { SSTConfig } from 'sst';
import { orchestryStacks } from './infra/index.js';

// Deploy with `npx sst deploy --stage NAME`; see docs/deploy.md for settings and secrets.
export default {
  config(input) {
    return {
      name: 'orchestry',
      region: input.region ?? process.env.AWS_REGION ?? 'us-east-1',
    };
  },
  stacks(app) {
    orchestryStacks(app);
  },
} satisfies SSTConfig;
