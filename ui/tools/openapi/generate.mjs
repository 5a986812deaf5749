// `npm run gen:api`: writes src/api/schema.d.ts, the TypeScript types of ../docs/openapi.json, with
// openapi-typescript's Node API (the same call and header as its CLI, default options).
// `node tools/openapi/generate.mjs --check` writes nothing and exits 1 when the committed file is
// not what the document generates (test/schema.test.ts runs it, and so `npm test` and `cargo test`).

import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript";

const DOCUMENT = new URL("../../../docs/openapi.json", import.meta.url);
const OUTPUT = new URL("../../src/api/schema.d.ts", import.meta.url);

/** The generated module's text for the document at `document` (a file: URL). */
export async function generate(document = DOCUMENT) {
  return `${COMMENT_HEADER}${astToString(await openapiTS(document, { silent: true }))}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = await generate();
  const out = fileURLToPath(OUTPUT);
  if (process.argv.includes("--check")) {
    let committed = "";
    try {
      committed = readFileSync(out, "utf8");
    } catch {}
    if (committed !== text) {
      console.error(
        `ui/src/api/schema.d.ts is not what docs/openapi.json generates.\n` +
          `Fix: cd ui && npm run gen:api, then npm run build (tsc shows what the UI must change), ` +
          `and commit ui/src/api/schema.d.ts and ui/dist.`,
      );
      process.exit(1);
    }
    console.log("ui/src/api/schema.d.ts is in step with docs/openapi.json");
  } else {
    writeFileSync(out, text);
    console.log(`${fileURLToPath(DOCUMENT)} → ${out}`);
  }
}
