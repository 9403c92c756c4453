import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` diffs db/schema.ts against migrations/meta and writes the next
// SQL migration. It needs no database.
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './migrations',
});
