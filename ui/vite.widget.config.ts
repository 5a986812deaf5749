import { defineConfig } from "vite";

// The widget: one classic script, /widget.js, that a host page includes with a <script> tag.
export default defineConfig({
  build: {
    outDir: process.env.UI_OUT_DIR ?? "dist",
    emptyOutDir: false,
    target: "es2022",
    sourcemap: false,
    lib: {
      entry: "src/widget/widget.ts",
      formats: ["iife"],
      name: "ConciergeWidget",
      fileName: () => "widget.js",
    },
  },
});
