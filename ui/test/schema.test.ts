import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ui = fileURLToPath(new URL("..", import.meta.url));

describe("the generated API types", () => {
  // src/api/schema.d.ts is what the typed client and `tsc` check the UI against; if it lagged behind
  // docs/openapi.json, the UI would compile against a document the server no longer serves.
  it("are what `npm run gen:api` generates from docs/openapi.json", () => {
    let output = "";
    let failed = false;
    try {
      output = execFileSync(process.execPath, ["tools/openapi/generate.mjs", "--check"], {
        cwd: ui,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (e) {
      failed = true;
      const err = e as { stdout?: string; stderr?: string; message: string };
      output = `${err.stdout ?? ""}${err.stderr ?? ""}` || err.message;
    }
    expect(failed, output).toBe(false);
  }, 60_000);
});
