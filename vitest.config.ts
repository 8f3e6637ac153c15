// Two projects: `unit` (pure, no services) and `integration` (real PostgreSQL, Kafka and Temporal,
// brought up once per run by tests/support/global-setup.ts).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['tests/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Files share one stack; run them one at a time so two cores are not oversubscribed.
          fileParallelism: false,
        },
      },
    ],
  },
});
