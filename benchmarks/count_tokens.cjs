// cl100k token counts for a JSON array of strings read on stdin; prints a JSON array of counts.
// Run by benchmarks/context_cost.py with the Node and js-tiktoken pinned in .ci/npm (bash .ci/npm_tools.sh).
// The module folder comes in as argv[2]: the npm-tools cache is not on Node's resolution path.
const path = require("path");
const modules = path.resolve(process.argv[2]);
const { Tiktoken } = require(path.join(modules, "js-tiktoken", "dist", "lite.cjs"));
const ranks = require(path.join(modules, "js-tiktoken", "dist", "ranks", "cl100k_base.cjs"));
const encoder = new Tiktoken(ranks.default || ranks);
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const texts = JSON.parse(input);
  process.stdout.write(JSON.stringify(texts.map((t) => encoder.encode(t).length)));
});
