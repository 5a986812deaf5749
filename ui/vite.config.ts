import { defineConfig } from "vitest/config";

// The app: one page (index.html) for `/`, `/chat` and `/inbox`, hashed assets under /assets/.
// UI_OUT_DIR lets the in-step check build into a temporary folder and compare with dist/.
export default defineConfig({
  build: {
    outDir: process.env.UI_OUT_DIR ?? "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
