import { defineConfig } from "vitest/config";

// Tests run under Bun (`bun --bun vitest run`) so they share the runtime of the shipped binary.
export default defineConfig({
  test: {
    include: ["services/**/*.test.ts", "ipmi/**/*.test.ts", "tui/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    // ink (is-ci) draws only the final frame under CI=true; the console tests need every frame.
    env: { CI: "false" },
    hookTimeout: 120_000,
    // Integration tests share network namespaces and the lab; keep files sequential per pool.
    fileParallelism: true,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2 } },
  },
});
