// Builds each MCP Apps view into one self-contained HTML file (script and style inline, no network), shipped in
// the Python package; and the test host page (ext-apps' AppBridge + the MCP client) used by the browser tests.
// Deterministic: the same sources and locked packages give byte-identical files (CI checks it).
// Usage: node views/build.mjs [outdir-for-views] [outdir-for-host]   (run through `make views`)
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const viewsOut = resolve(process.argv[2] || join(root, "cleavr_mcp", "views"));
const hostOut = resolve(process.argv[3] || join(root, "tests", "apps", "host"));
// The locked packages of .ci/npm, installed by .ci/npm_tools.sh (NPM_TOOLS_DIR, default .cache/npm-tools).
const modules = join(resolve(process.env.NPM_TOOLS_DIR || join(root, ".cache", "npm-tools")), "node_modules");
const { build } = createRequire(join(modules, "noop.js"))("esbuild");
const nodePath = [modules];

async function bundle(entry) {
  const result = await build({
    entryPoints: [entry], bundle: true, format: "iife", platform: "browser", target: "es2022", minify: true,
    legalComments: "none", write: false, charset: "utf8", nodePaths: nodePath, logLevel: "warning",
  });
  return result.outputFiles[0].text;
}

const css = readFileSync(join(here, "src", "style.css"), "utf8");
for (const [name, title] of [["portfolio", "Recovery portfolio"], ["receivable", "Receivable"]]) {
  // "</script" cannot appear inside an inline script; "<\/script" means the same to JavaScript.
  const js = (await bundle(join(here, "src", `${name}.js`))).replaceAll("</script", "<\\/script");
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>${title}</title>
<style>${css}</style>
</head>
<body>
<main id="app"><p class="muted">Waiting for the result…</p></main>
<script>${js}</script>
</body>
</html>
`;
  mkdirSync(viewsOut, { recursive: true });
  writeFileSync(join(viewsOut, `${name}.html`), html);
}
mkdirSync(hostOut, { recursive: true });
writeFileSync(join(hostOut, "host.bundle.js"), await bundle(join(root, "tests", "apps", "host", "host.js")));
